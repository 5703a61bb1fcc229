"""What the browser tests do on the panel and against the live orchestrator's API."""

from pathlib import Path

import httpx

from tests import environment
from tests.support.stream_events import acexy_started, play

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
ADMIN = (environment.TEST_ENV["ADMIN_USERNAME"], environment.TEST_ENV["ADMIN_PASSWORD"])
XSS = "<img src=x onerror=alert(1)>"


def screenshot(page, name: str, full_page: bool = True) -> None:
    """tests/artifacts/<name>.png, to be looked at; the page must not scroll sideways."""
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{name}: {width[0]} px wide in a {width[1]} px window"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def log_in(page, base_url: str) -> None:
    """Through Django's login form, as an operator does."""
    page.goto(f"{base_url}/panel")
    page.fill("#id_username", ADMIN[0])
    page.fill("#id_password", ADMIN[1])
    page.click("input[type=submit]")
    page.wait_for_url(f"{base_url}/panel")


def wait_live(page) -> None:
    """The panel's socket is open (and its resync fetch under way)."""
    page.wait_for_selector("#link.pill-ok", timeout=10_000)


def mark_page(page) -> None:
    """A flag that a reload would wipe: proves later changes arrived without one."""
    page.evaluate("window.__notReloaded = true")


def was_not_reloaded(page) -> bool:
    return page.evaluate("window.__notReloaded === true")


def provision(api: httpx.Client, wait_ready: bool = True, **body) -> dict:
    response = api.post("/provision/acestream", json={"wait_ready": wait_ready, **body})
    assert response.status_code == 200, response.text
    return response.json()


def start_stream(api: httpx.Client, port: int, key: str, **changes) -> dict:
    """Play `key` on the engine and report it as acexy does; the StreamState answer."""
    body = acexy_started(play(port, key), port, key, **changes)
    response = api.post("/events/stream_started", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def engine_row(page, name: str):
    return page.locator("#engines tbody tr", has=page.locator(".name", has_text=name))


def chart_points(page) -> int:
    return page.evaluate(
        "() => { const chart = Chart.getChart(document.getElementById('chart'));"
        " return chart ? chart.data.labels.length : 0; }")
