"""Browser tests: Debian's Chromium driven by Playwright against a real daphne + worker
on real Docker, with the engine simulator as TARGET_IMAGE and stats collected every second.

Run them in their own pytest process (`python -m pytest -m browser tests/browser`): Playwright's
sync API keeps an event loop in the main thread, which Django's database access refuses. These
tests therefore reach the orchestrator only over HTTP, never through the ORM.
"""

import pytest
from playwright.sync_api import sync_playwright

from tests.browser.helpers import CHROMIUM_ARGS, DESKTOP, log_in
from tests.support.live import Orchestrator


@pytest.fixture(scope="session")
def live(engine_image):
    orch = Orchestrator(env={"TARGET_IMAGE": engine_image, "COLLECT_INTERVAL_S": "1",
                             "ALLOWED_HOSTS": "127.0.0.1,localhost"})
    orch.start()
    yield orch
    orch.stop(grace=3)  # nothing is left to finish


@pytest.fixture
def api(live):
    with live.client() as client:
        yield client


@pytest.fixture(scope="session")
def chromium():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def staff_state(chromium, live):
    """A logged-in session (cookies), shared by the tests' fresh browser contexts."""
    context = chromium.new_context()
    log_in(context.new_page(), live.base_url)
    state = context.storage_state()
    context.close()
    return state


@pytest.fixture
def open_page(chromium, live, staff_state):
    """`open_page(path, viewport=DESKTOP, logged_in=True)`: a new page in a fresh context. A
    JavaScript dialog other than the delete confirmation fails the test (an injected alert)."""
    contexts = []
    dialogs = []

    def open_(path="/panel", viewport=DESKTOP, logged_in=True):
        context = chromium.new_context(viewport=viewport, storage_state=staff_state if logged_in else None)
        contexts.append(context)
        page = context.new_page()

        def on_dialog(dialog):
            dialogs.append(dialog.message)
            dialog.accept()

        page.on("dialog", on_dialog)
        page.goto(live.base_url + path)
        return page

    yield open_
    for context in contexts:
        context.close()
    assert all(message.startswith("Stop and remove") for message in dialogs), dialogs
