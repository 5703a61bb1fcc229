"""Engines on an open panel follow the fleet without a reload: one provisioned through the API
appears and turns healthy; one deleted from the panel disappears and its container is gone."""

import pytest

from tests.browser.helpers import engine_row, mark_page, provision, wait_live, was_not_reloaded

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.docker]


def test_engine_provisioned_through_the_api_appears_without_reload(open_page, api, fleet):
    page = open_page()
    wait_live(page)
    mark_page(page)
    engine = provision(api, wait_ready=False)
    row = engine_row(page, engine["container_name"])
    row.wait_for(timeout=5_000)
    assert f"127.0.0.1:{engine['host_http_port']}" in row.inner_text()
    # The worker's first check moves it from unknown to healthy; the panel follows.
    row.locator(".health-healthy").wait_for(timeout=20_000)
    assert was_not_reloaded(page)


def test_delete_from_the_panel_removes_the_container(open_page, api, fleet):
    engine = provision(api)
    page = open_page()
    wait_live(page)
    row = engine_row(page, engine["container_name"])
    row.locator("button[data-action=check]").click()
    page.locator("#toast", has_text=f"{engine['container_name']}: healthy").wait_for(timeout=10_000)
    row.locator("button[data-action=delete]").click()  # the confirmation is accepted
    row.wait_for(state="detached", timeout=10_000)
    assert not fleet.containers.list(all=True, filters={"id": engine["container_id"]})
