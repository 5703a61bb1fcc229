"""The Settings page in Chromium: a staff operator opens it from the admin index, raises
min_replicas, saves, and the fleet follows without a restart; the change is in the history;
the page reads at desktop and phone widths; someone not logged in is sent to the login."""

import pytest

from tests.browser.helpers import DESKTOP, PHONE, screenshot
from tests.support.events import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.docker]


@pytest.fixture
def restore_min_replicas(api, live):
    yield
    api.delete("/settings/min_replicas")
    for engine in api.get("/engines").json():
        api.delete(f"/containers/{engine['container_id']}")


def test_raise_min_replicas_from_the_admin_and_the_fleet_follows(open_page, api, fleet,
                                                                 restore_min_replicas):
    page = open_page("/admin/")
    page.click("#fleet-status a:has-text('Settings')")
    page.wait_for_selector("#settings-form")
    before = len(api.get("/engines").json())
    page.fill("#id_min_replicas", str(before + 1))
    page.click("#settings-form input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    assert "min_replicas" in page.locator("#settings-history").inner_text()
    # Reconcile runs every AUTOSCALE_INTERVAL_S (30 s) at the worker's scheduler tick (5 s).
    wait_for(lambda: len(api.get("/engines").json()) == before + 1, timeout=90, interval=1)
    for viewport, name in ((DESKTOP, "settings-desktop"), (PHONE, "settings-phone")):
        shot = open_page("/admin/core/setting/", viewport=viewport)
        shot.wait_for_selector("#settings-form")
        screenshot(shot, name, full_page=False)


def test_the_settings_page_is_for_staff_only(open_page, live):
    page = open_page("/admin/core/setting/", logged_in=False)
    assert "/admin/login/" in page.url
