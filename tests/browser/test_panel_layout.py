"""The panel on a phone (390 px: no horizontal scroll) and on a desktop (1440 px: filled), with
an engine, a stream and its chart; screenshots go to tests/artifacts/ to be looked at."""

import time

import httpx
import pytest

from tests.browser.helpers import (
    PHONE,
    chart_points,
    engine_row,
    provision,
    screenshot,
    start_stream,
    wait_live,
)

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.docker]

def wait_for_chart(page, points: int) -> None:
    deadline = time.monotonic() + 20
    while chart_points(page) < points:
        assert time.monotonic() < deadline, f"the chart has {chart_points(page)} of {points} points"
        time.sleep(0.2)


@pytest.fixture
def busy_fleet(api, fleet):
    """Two engines with a stream each, and a third that fails its checks."""
    engines = [provision(api, labels={"team": "night-shift"}), provision(api), provision(api)]
    stream = start_stream(api, engines[0]["host_http_port"], "a3f1c2d4e5b6a7980112233445566778899aabbc")
    start_stream(api, engines[1]["host_http_port"], "ch-sports-2")
    httpx.get(f"http://127.0.0.1:{engines[2]['host_http_port']}/sim/fault", params={"mode": "fail"})
    return {"stream": stream, "failing": engines[2]}


def test_desktop_fills_the_width_and_phone_has_no_horizontal_scroll(open_page, busy_fleet):
    page = open_page()
    wait_live(page)
    failing = engine_row(page, busy_fleet["failing"]["container_name"])
    failing.locator("button[data-action=check]").click()
    failing.locator(".health-unhealthy").wait_for(timeout=10_000)
    stream = busy_fleet["stream"]
    page.locator("button.stream", has_text=stream["id"]).click()
    wait_for_chart(page, 5)
    grid_width = page.evaluate("document.querySelector('.grid').getBoundingClientRect().width")
    assert grid_width > 1440 - 80  # the layout uses the screen, minus its margins
    screenshot(page, "panel-desktop")

    phone = open_page(f"/panel#stream={stream['id']}", viewport=PHONE)
    wait_live(phone)
    wait_for_chart(phone, 3)
    screenshot(phone, "panel-phone")
