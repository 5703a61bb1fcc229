"""Fleet problems where operators look: the panel's banner appears, without a reload, the moment
the engine image is made unavailable (a saved setting naming an image nobody has, then a
provision that cannot pull it), and goes when it is fixed (the image loaded on the host); the
admin index shows the same reason in its status box. Screenshots of both at 1440 and 390 px go
to tests/artifacts/. A session that is not staff gets nothing."""

import pytest

from tests import environment
from tests.browser.helpers import DESKTOP, PHONE, mark_page, screenshot, wait_live, was_not_reloaded

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.docker]

# A registry that refuses at once: the pull fails in milliseconds, not after a network timeout.
MISSING = f"127.0.0.1:1/orch-missing-{environment.RUN_ID}:latest"


@pytest.fixture
def missing_image(api, fleet, engine_image):
    """An image that is nowhere, for the test to save as TARGET_IMAGE; set back and untagged after."""
    yield MISSING
    assert api.patch("/settings", json={"target_image": None}).status_code == 200
    for container in fleet.containers.list(all=True, filters={"ancestor": MISSING}):
        container.remove(force=True)
    try:
        fleet.images.remove(MISSING, noprune=True)
    except Exception:  # noqa: BLE001 - never tagged: the test failed before the fix
        pass


def test_banner_appears_when_the_image_is_unavailable_and_goes_when_it_is_fixed(
        open_page, api, fleet, engine_image, missing_image):
    page = open_page("/panel")
    wait_live(page)
    mark_page(page)
    banner = page.locator("#banner")
    assert banner.is_hidden(), banner.inner_text()
    # Saving the image queues a reconcile pass, which may try the pull before the provision does.
    answer = api.patch("/settings", json={"target_image": missing_image})
    assert answer.status_code == 200, answer.text

    refused = api.post("/provision/acestream", json={})
    assert refused.status_code == 503, refused.text
    assert refused.json()["detail"]["code"] == "image_unavailable"
    banner.wait_for(state="visible", timeout=10_000)  # pushed: the gate announced it
    assert was_not_reloaded(page)
    assert "The engine image is not available" in banner.inner_text()
    assert MISSING in page.locator('[data-banner="message"]').inner_text()
    links = page.locator('[data-banner="actions"] a')
    assert "Edit the engine image" in links.all_inner_texts()
    assert page.locator("#banner.banner-fault").count() == 1
    screenshot(page, "banner-desktop")

    phone = open_page("/panel", viewport=PHONE)
    phone.locator("#banner").wait_for(state="visible")
    screenshot(phone, "banner-phone")

    for viewport, name in ((DESKTOP, "admin-index-desktop"), (PHONE, "admin-index-phone")):
        index = open_page("/admin/", viewport=viewport)
        box = index.locator("#fleet-status")
        assert "Provisioning is blocked: The engine image is not available" in box.inner_text()
        assert index.locator("#fleet-status.fleet-status-fault").count() == 1
        assert "Edit the engine image" in box.locator("a.button").all_inner_texts()
        screenshot(index, name)

    # The operator loads the image on the host; the next provision finds it and starts.
    fleet.images.get(engine_image).tag(MISSING)
    started = api.post("/provision/acestream", json={})
    assert started.status_code == 200, started.text
    banner.wait_for(state="hidden", timeout=10_000)
    assert was_not_reloaded(page)
    page.locator("#engines tbody tr", has_text=started.json()["container_name"]).wait_for(timeout=10_000)


@pytest.fixture
def touchy_breaker(api, fleet):
    """One failed start opens the breaker for 8 s; engines that never answer fail in 1 s."""
    changes = {"provision_failure_threshold": 1, "provision_cooldown_s": 8, "startup_timeout_s": 1}
    answer = api.patch("/settings", json=changes)
    assert answer.status_code == 200, answer.text
    yield
    assert api.patch("/settings", json=dict.fromkeys(changes)).status_code == 200
    assert api.post("/health/circuit-breaker/reset").status_code == 200


def test_breaker_banner_counts_down_to_half_open_and_links_to_the_reset(open_page, api, touchy_breaker):
    page = open_page("/panel")
    wait_live(page)
    mark_page(page)
    # An engine that exits at once never answers get_status: its start failed.
    engine = api.post("/provision/acestream", json={"env": {"SIM_FAULT": "exit"}})
    assert engine.status_code == 200, engine.text
    banner = page.locator("#banner")
    banner.wait_for(state="visible", timeout=15_000)
    assert "circuit breaker is open" in page.locator('[data-banner="message"]').inner_text()
    # Quiet now; the Docker events stream may have removed the exited engine already.
    assert api.delete(f"/containers/{engine.json()['container_id']}").status_code in (200, 404)
    clock = banner.locator("time[data-fmt=countdown]")
    first = clock.inner_text()
    assert first.endswith(" s"), first
    page.wait_for_function("(first) => document.querySelector('#banner time[data-fmt=countdown]')"
                           "?.textContent !== first", arg=first, timeout=5_000)  # it ticks
    # No message announces the step to half-open: the page reads the state when the count ends.
    page.locator('[data-banner="message"]', has_text="half_open").wait_for(timeout=15_000)
    assert was_not_reloaded(page)
    assert banner.locator("time[data-fmt=countdown]").count() == 0

    page.click("#banner a:has-text('Reset the breaker')")
    page.locator(".operation-question", has_text="Close the circuit breaker on engine starts?").wait_for()
    screenshot(page, "admin-reset-breaker-confirm")
    page.click("input[type=submit]")
    page.locator(".messagelist .success", has_text="Circuit breaker reset").wait_for()
    assert page.url.endswith("/admin/")
    assert "Start breaker: closed" in page.locator("#fleet-status").inner_text()


@pytest.mark.parametrize(("viewport", "suffix"), [(DESKTOP, "desktop"), (PHONE, "phone")])
def test_operation_pages_fit_the_screen(open_page, viewport, suffix):
    form = open_page("/admin/engines/engine/provision/?count=3", viewport=viewport)
    assert form.input_value("input[name=count]") == "3"
    screenshot(form, f"admin-provision-{suffix}")
    key = open_page("/admin/api-key/", viewport=viewport)
    key.click("summary")
    key.locator("#api-key").wait_for()
    assert key.locator("#api-key").inner_text() == environment.TEST_ENV["API_KEY"]
    screenshot(key, f"admin-api-key-{suffix}")


def non_staff_session(live) -> str:
    """A logged-in session of a user who is not staff (a key for the session cookie)."""
    script = (
        "from django.contrib.auth import get_user_model, SESSION_KEY, BACKEND_SESSION_KEY, HASH_SESSION_KEY\n"
        "from django.contrib.sessions.backends.db import SessionStore\n"
        "user, _ = get_user_model().objects.get_or_create(username='viewer-browser')\n"
        "user.set_password('viewer-pass-123'); user.save()\n"
        "session = SessionStore()\n"
        "session[SESSION_KEY] = str(user.pk)\n"
        "session[BACKEND_SESSION_KEY] = 'django.contrib.auth.backends.ModelBackend'\n"
        "session[HASH_SESSION_KEY] = user.get_session_auth_hash()\n"
        "session.create()\n"
        "print(session.session_key)\n")
    return live.manage("shell", "-c", script).stdout.strip().splitlines()[-1]


def test_a_user_who_is_not_staff_gets_nothing(chromium, live):
    context = chromium.new_context(viewport=DESKTOP)
    try:
        context.add_cookies([{"name": "sessionid", "value": non_staff_session(live),
                              "url": live.base_url}])
        page = context.new_page()
        for path in ("/panel", "/admin/", "/admin/engines/engine/", "/admin/api-key/",
                     "/admin/engines/engine/provision/", "/admin/engines/fleet/reset-breaker/"):
            page.goto(live.base_url + path)
            assert "/admin/login/" in page.url, path
            assert "not authorized to access this page" in page.content(), path
        answers = page.evaluate("""async () => {
            const state = await fetch('/panel/state.json');
            const check = await fetch('/panel/engines/1/check', {method: 'POST'});
            const socket = await new Promise((resolve) => {
                const ws = new WebSocket(`ws://${location.host}/ws/fleet`);
                let opened = false;
                ws.onopen = () => { opened = true; };
                ws.onclose = (event) => resolve({opened, code: event.code});
            });
            return {state: state.status, check: check.status, socket};
        }""")
        assert answers["state"] == 403 and answers["check"] == 403
        assert answers["socket"]["code"] == 4403 or not answers["socket"]["opened"], answers
        page.goto(live.base_url + "/engines")
        assert "missing bearer token" in page.content()
    finally:
        context.close()
