"""Operators log in through Django's form; a socket without a staff session is refused."""

import pytest

from tests.browser.helpers import log_in, wait_live

pytestmark = [pytest.mark.browser, pytest.mark.live]


def test_login_leads_to_the_live_panel(chromium, live):
    context = chromium.new_context()
    try:
        page = context.new_page()
        log_in(page, live.base_url)
        assert page.title().startswith("Fleet")
        wait_live(page)
        assert page.locator("#link").inner_text() == "live"
    finally:
        context.close()


def test_anonymous_socket_is_refused(open_page, live):
    page = open_page("/admin/login/", logged_in=False)
    outcome = page.evaluate("""() => new Promise((resolve) => {
        const socket = new WebSocket(`ws://${location.host}/ws/fleet`);
        let opened = false;
        socket.onopen = () => { opened = true; };
        socket.onclose = (event) => resolve({opened, code: event.code});
    })""")
    assert outcome == {"opened": False, "code": 1006}  # the handshake was answered 403
