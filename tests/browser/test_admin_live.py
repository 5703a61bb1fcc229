"""The admin runs the fleet: its provision form starts an engine, and an open engine list shows
an engine provisioned elsewhere without the operator reloading it."""

import pytest

from tests.browser.helpers import provision

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.docker]

ENGINES = "/admin/engines/engine/"


def engine_link(page, name: str):
    return page.locator("#result_list a", has_text=name)


def test_admin_provision_form_starts_an_engine(open_page, fleet, live):
    page = open_page(ENGINES)
    page.click("text=Provision engines")
    page.wait_for_selector("input[name=count]")
    assert page.input_value("input[name=count]") == "1"
    page.click("input[type=submit][value=Provision]")
    message = page.locator(".messagelist .success").inner_text()
    assert message.startswith("Provisioned 1 engine(s): ")
    name = message.removeprefix("Provisioned 1 engine(s): ").split()[0]
    engine_link(page, name).wait_for()
    api_view = fleet.containers.get(name)
    assert api_view.status == "running"


def test_engine_list_follows_the_fleet(open_page, api, fleet):
    page = open_page(ENGINES)
    page.wait_for_selector("html[data-live=open]", state="attached")  # the list's socket is open
    engine = provision(api, wait_ready=False)
    engine_link(page, engine["container_name"]).wait_for(timeout=10_000)
