"""A stream started while the panel is open shows up; selecting it draws its speed and peers,
and the chart gains points as the worker collects stats (every second here)."""

import time

import pytest

from tests.browser.helpers import (
    chart_points,
    mark_page,
    provision,
    start_stream,
    wait_live,
    was_not_reloaded,
)

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.docker]


def test_started_stream_appears_and_its_chart_grows(open_page, api, fleet):
    engine = provision(api)
    page = open_page()
    wait_live(page)
    mark_page(page)
    stream = start_stream(api, engine["host_http_port"], "ch-live")

    button = page.locator("button.stream", has_text=stream["id"])
    button.wait_for(timeout=5_000)
    button.click()
    page.locator("#detail-fields", has_text=engine["container_name"]).wait_for()

    deadline = time.monotonic() + 15
    while chart_points(page) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    first = chart_points(page)
    assert first >= 2
    while chart_points(page) < first + 2 and time.monotonic() < deadline + 10:
        time.sleep(0.2)
    assert chart_points(page) >= first + 2  # new points without reopening the stream
    kpi = page.locator('[data-kpi="speed_down"]').inner_text()
    assert kpi.endswith(("KB/s", "MB/s"))
    assert was_not_reloaded(page)
