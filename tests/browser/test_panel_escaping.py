"""Labels are data: a label that is HTML shows as text in the first paint and in live updates,
and never runs (an alert would fail the test through the dialog guard)."""

import pytest

from tests.browser.helpers import XSS, engine_row, provision, start_stream, wait_live

pytestmark = [pytest.mark.browser, pytest.mark.live, pytest.mark.docker]


def test_html_in_labels_shows_as_text(open_page, api, fleet):
    page = open_page()
    wait_live(page)
    engine = provision(api, labels={"note": XSS})
    start_stream(api, engine["host_http_port"], "ch-xss", labels={"stream_id": XSS})
    row = engine_row(page, engine["container_name"])
    row.wait_for(timeout=5_000)
    stream = page.locator("button.stream", has_text=XSS)
    stream.wait_for(timeout=5_000)  # rendered live by panel.js
    stream.click()
    page.locator("#detail-fields", has_text=f"stream_id={XSS}").wait_for()

    page.reload()  # and rendered by the server
    row = engine_row(page, engine["container_name"])
    assert row.locator(".chip", has_text="note=").inner_text() == f"note={XSS}"
    assert page.locator("button.stream .mono", has_text=XSS).inner_text() == XSS
    assert page.locator("main img").count() == 0
