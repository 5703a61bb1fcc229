"""The admin as a control room: its own header, proper names for every model, the fleet's status
box on the index with links to what helps, resetting the breaker and the API key page (each
operation asking first), failed logins throttled; and a user who is not staff gets nothing from
any admin or panel view."""

import re

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils.text import capfirst

from core import api_key
from engines import gate
from engines.models import Engine, Fleet, State
from tests import environment

pytestmark = pytest.mark.django_db

# Every model the admin shows, by the name it shows.
ADMIN_NAMES = {
    "engines.Engine": "Engines",
    "engines.PortReservation": "Port reservations",
    "engines.Fleet": "Fleet state",
    "streams.Stream": "Streams",
    "streams.StatSnapshot": "Stat snapshots",
    "vpn.VpnState": "VPN states",
    "vpn.VpnTransition": "VPN transitions",
}


@pytest.fixture
def viewer(django_user_model):
    """Logged in, but not staff."""
    client = Client()
    client.force_login(django_user_model.objects.create_user("viewer", password="pw-123456789"))
    return client


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_header_title_and_index_title(admin_client):
    page = admin_client.get("/admin/").content.decode()
    assert "<title>Control room | AceStream orchestrator</title>" in page
    assert re.search(r'<div id="site-name"><a href="/admin/">AceStream orchestrator</a></div>', page)
    assert 'href="/panel"' in page  # "View site" opens the panel


def test_every_model_has_a_proper_name(admin_client):
    shown = {model._meta.label: capfirst(model._meta.verbose_name_plural)
             for model in admin.site._registry if model._meta.app_label in {
                 "engines", "streams", "vpn", "core"}}
    for label, name in ADMIN_NAMES.items():
        assert shown.pop(label) == name
    # Models of the other parts of the issue (Settings) only need a name that is not Django's
    # lower-case guess at an acronym.
    assert not [name for name in shown.values() if re.search(r"\b(Vpn|Api|Ip)\b", name)], shown
    page = admin_client.get("/admin/").content.decode()
    for name in ADMIN_NAMES.values():
        assert f">{name}</a>" in page, name
    assert "Vpn" not in page


# The lists that reload themselves, and the changes they follow.
LIVE_LISTS = {
    "/admin/engines/engine/": "engine,stream",
    "/admin/engines/fleet/": "provisioning,engine",
    "/admin/streams/stream/": "stream",
    "/admin/vpn/vpnstate/": "vpn",
    "/admin/vpn/vpntransition/": "vpn",
}


@pytest.mark.parametrize("url", LIVE_LISTS)
def test_live_lists_follow_their_changes(admin_client, url):
    page = admin_client.get(url).content.decode()
    assert re.search(r'<script src="/static/panel/admin-live.js" data-kinds="([^"]*)"', page)[1] \
        == LIVE_LISTS[url]


def test_the_stat_snapshots_list_does_not_reload_itself(admin_client):
    assert "admin-live.js" not in admin_client.get("/admin/streams/statsnapshot/").content.decode()


def test_index_status_box_when_all_is_well(admin_client):
    page = admin_client.get("/admin/").content.decode()
    box = re.search(r'<section id="fleet-status".*?</section>', page, re.S).group(0)
    assert "fleet-status-ok" in box and "Provisioning is open" in box
    assert "0 healthy</span> of 0 engines" in box
    assert 'href="/admin/engines/engine/provision/?count=1">Provision one engine<' in box
    assert "Reset the breaker" not in box  # the breaker is closed
    assert 'href="/admin/api-key/">show or rotate the key<' in box
    assert "/static/panel/admin-live.js" in page  # the box follows the fleet socket


def test_index_status_box_names_the_reason_and_links_to_what_helps(admin_client, orch):
    orch(PROVISION_FAILURE_THRESHOLD=1, MIN_REPLICAS=2)
    gate.record_start_failure("Docker could not start 'ace-1': no such file")
    page = admin_client.get("/admin/").content.decode()
    box = re.search(r'<section id="fleet-status".*?</section>', page, re.S).group(0)
    assert "fleet-status-fault" in box
    assert "Provisioning is blocked: Engine starts keep failing" in box
    assert "<code>circuit_breaker</code>" in box and "no such file" in box
    assert 'class="button primary" href="/admin/engines/fleet/reset-breaker/">Reset the breaker<' in box
    assert box.count("Reset the breaker") == 1
    assert 'level-bad">0 healthy</span>' in box and "2 wanted (MIN_REPLICAS)" in box
    try:
        settings_url = reverse("admin:core_settings")
    except NoReverseMatch:
        settings_url = None
    assert (f'href="{settings_url}">Settings<' in box) if settings_url else ">Settings<" not in box


def test_reset_breaker_asks_then_closes_it(admin_client, orch):
    orch(PROVISION_FAILURE_THRESHOLD=1)
    gate.record_start_failure("boom")
    url = reverse("admin:engines_fleet_reset_breaker")
    confirm = admin_client.get(url)
    assert confirm.status_code == 200
    assert "Close the circuit breaker on engine starts?" in confirm.content.decode()
    assert "Last failure: boom" in confirm.content.decode()
    assert Fleet.stored().breaker_state() == "open"  # asking changes nothing
    response = admin_client.post(url, {"post": "yes"}, follow=True)
    assert Fleet.stored().breaker_state() == "closed"
    assert "Circuit breaker reset (it was open): engine starts are allowed again." in messages_of(response)


def test_reset_breaker_as_an_action_of_the_fleet_state_list(admin_client, orch):
    orch(PROVISION_FAILURE_THRESHOLD=1)
    gate.record_start_failure("boom")
    listing = admin_client.get("/admin/engines/fleet/").content.decode()
    assert "blocked: circuit_breaker" in listing and "reset_breaker" in listing
    selected = {"action": "reset_breaker", "_selected_action": [Fleet.PK]}
    confirm = admin_client.post("/admin/engines/fleet/", selected)
    assert "Close the circuit breaker" in confirm.content.decode()
    assert Fleet.stored().breaker_state() == "open"
    response = admin_client.post("/admin/engines/fleet/", {**selected, "post": "yes"}, follow=True)
    assert Fleet.stored().breaker_state() == "closed"
    assert any(text.startswith("Circuit breaker reset") for text in messages_of(response))


def test_api_key_page_shows_the_generated_key_and_rotates_it(admin_client, orch, tmp_path):
    orch(API_KEY=None, DATA_DIR=tmp_path)
    key, created = api_key.ensure()
    assert created
    page = admin_client.get("/admin/api-key/")
    assert page.status_code == 200
    assert key in page.content.decode() and str(tmp_path / "api-key") in page.content.decode()
    assert "no-cache" in page["Cache-Control"]

    confirm = admin_client.get("/admin/api-key/rotate/").content.decode()
    assert "Write a new API key?" in confirm and "refused (403)" in confirm
    assert api_key.current() == key
    response = admin_client.post("/admin/api-key/rotate/", {"post": "yes"}, follow=True)
    assert any(text.startswith("A new API key is in force") for text in messages_of(response))
    assert api_key.current() != key
    assert (tmp_path / "api-key").stat().st_mode & 0o777 == 0o600


def test_api_key_from_the_environment_is_not_rotated(admin_client):
    page = admin_client.get("/admin/api-key/").content.decode()
    assert environment.TEST_ENV["API_KEY"] in page and "It comes from <strong>API_KEY</strong>" in page
    assert "/admin/api-key/rotate/" not in page
    response = admin_client.post("/admin/api-key/rotate/", {"post": "yes"}, follow=True)
    assert "The API key was not rotated: the API key is set in the environment (API_KEY): change " \
           "it there" in messages_of(response)
    assert api_key.current() == environment.TEST_ENV["API_KEY"]


def test_open_api_page_warns(admin_client, orch):
    orch(API_KEY=None, OPEN_API=True)
    page = admin_client.get("/admin/api-key/").content.decode()
    assert "The API is open" in page and "/admin/api-key/rotate/" not in page
    box = admin_client.get("/admin/").content.decode()
    assert "open to anyone (OPEN_API=true)" in box


def test_failed_logins_are_throttled_per_username_and_address(client, django_user_model):
    django_user_model.objects.create_user("ops", password="right-pass-123", is_staff=True)
    for _ in range(5):
        wrong = client.post("/admin/login/", {"username": "ops", "password": "wrong"})
        assert wrong.status_code in (200, 429)
    locked = client.post("/admin/login/", {"username": "ops", "password": "right-pass-123"})
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    assert int(locked["Retry-After"]) == 15 * 60
    as_json = client.post("/admin/login/", {"username": "ops", "password": "right-pass-123"},
                          headers={"Accept": "application/json"})
    assert as_json.status_code == 429
    assert as_json.json()["retry_after_seconds"] == 900
    # Another username from the same address is not locked out with it.
    django_user_model.objects.create_user("other", password="other-pass-123", is_staff=True)
    other = client.post("/admin/login/", {"username": "other", "password": "other-pass-123"})
    assert other.status_code == 302


def test_a_good_login_clears_the_failures(client, django_user_model):
    django_user_model.objects.create_user("ops", password="right-pass-123", is_staff=True)
    for _ in range(4):
        client.post("/admin/login/", {"username": "ops", "password": "wrong"})
    assert client.post("/admin/login/", {"username": "ops", "password": "right-pass-123"}).status_code == 302
    client.logout()
    for _ in range(4):
        client.post("/admin/login/", {"username": "ops", "password": "wrong"})
    assert client.post("/admin/login/", {"username": "ops", "password": "right-pass-123"}).status_code == 302


def admin_pages() -> list[str]:
    pages = ["/admin/", "/admin/api-key/", "/admin/api-key/rotate/",
             reverse("admin:engines_engine_provision"), reverse("admin:engines_fleet_reset_breaker")]
    for model in admin.site._registry:
        opts = model._meta
        pages.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        pages.append(reverse("admin:app_list", args=[opts.app_label]))
    return sorted(set(pages))


@pytest.mark.parametrize("logged_in", [False, True], ids=["anonymous", "not-staff"])
def test_not_staff_gets_nothing(client, viewer, orch, logged_in):
    browser = viewer if logged_in else client
    orch(PROVISION_FAILURE_THRESHOLD=1, MAX_REPLICAS=2)
    gate.record_start_failure("boom")
    engine = Engine.objects.create(container_id="c" * 64, container_name="ace-1", host="127.0.0.1",
                                   host_http_port=19001, state=State.RUNNING)
    for page in admin_pages():
        for method in ("get", "post"):
            response = getattr(browser, method)(page, {"post": "yes"} if method == "post" else None)
            assert response.status_code == 302, (method, page, response.status_code)
            assert response["Location"].startswith("/admin/login/"), (method, page)
    for action in ("stop_and_remove", "restart_selected", "check_health_now"):
        response = browser.post("/admin/engines/engine/", {"action": action, "post": "yes",
                                                           "_selected_action": [engine.pk]})
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert Engine.objects.filter(pk=engine.pk, health_status="unknown").exists()
    assert Fleet.stored().breaker_state() == "open"  # nothing was reset

    assert browser.get("/panel")["Location"].startswith("/admin/login/")
    for url, method in (("/panel/state.json", "get"), (f"/panel/engines/{engine.pk}/check", "post"),
                        (f"/panel/engines/{engine.pk}/delete", "post")):
        response = getattr(browser, method)(url)
        assert response.status_code == (403 if logged_in else 401), url
        assert "detail" in response.json()
    assert browser.get("/engines").status_code == 401  # the API wants the key
