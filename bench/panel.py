"""The panel: how soon a change reported to the API shows on an open panel in Chromium (the
original panel polled every 5 s), and how fast the panel loads with 50 engines and 200 streams.

Run: python -m bench.panel [rounds]
"""

import statistics
import sys
import time

import django

from bench.common import Row, median, percentile, print_table  # before Django: the isolated environment

django.setup()  # the browser tests' helpers import tests.support.stream_events, which uses models

import httpx  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser.helpers import (  # noqa: E402
    CHROMIUM_ARGS,
    DESKTOP,
    acexy_started,
    log_in,
    play,
    provision,
    wait_live,
)
from tests.support.images import engine_sim_image  # noqa: E402
from tests.support.live import Orchestrator  # noqa: E402

ORIGINAL_POLL_S = 5.0
SETTLE_MS = 1000
HISTORY = 720  # snapshots per stream: STATS_HISTORY_MAX, a full hour at 5 s

# Notes in window.__seen the Date.now() at which `count` elements match `selector`: the moment is
# taken by the page itself, so how often the bench looks does not count.
WATCH_FOR = """([selector, count]) => {
    window.__seen = null;
    const look = () => {
        if (window.__seen === null && document.querySelectorAll(selector).length >= count) {
            window.__seen = Date.now();
            observer.disconnect();
        }
    };
    const observer = new MutationObserver(look);
    observer.observe(document.body, {childList: true, subtree: true});
    look();
}"""


def seconds_until_seen(page, sent: float) -> float:
    page.wait_for_function("window.__seen !== null", timeout=10_000)
    return page.evaluate("window.__seen") / 1000 - sent

SEED = """
import datetime
from django.utils import timezone
from engines.models import Engine, Health, State
from streams.models import StatSnapshot, Stream
now = timezone.now()
engines = Engine.objects.bulk_create([
    Engine(container_id=f"fake-{n:02d}" * 4, container_name=f"fake-{n:02d}", host="127.0.0.1",
           host_http_port=40000 + n, managed=False, state=State.RUNNING,
           health_status=[Health.HEALTHY, Health.UNHEALTHY, Health.UNKNOWN][n % 3],
           last_health_check=now, last_stream_usage=now, labels={"team": f"t{n % 5}"})
    for n in range(50)])
streams = Stream.objects.bulk_create([
    Stream(id=f"{n:040x}|session-{n}", key_type="infohash", key=f"{n:040x}", engine=engines[n % 50],
           container_id=engines[n % 50].container_id, playback_session_id=f"session-{n}",
           stat_url="http://127.0.0.1/", command_url="http://127.0.0.1/")
    for n in range(200)])
StatSnapshot.objects.bulk_create([
    StatSnapshot(stream=stream, ts=now - datetime.timedelta(seconds=5 * age), peers=20,
                 speed_down=800, speed_up=100, downloaded=age, uploaded=age, status="dl")
    for stream in streams for age in range(HISTORY)], batch_size=5000)
print(Engine.objects.count(), Stream.objects.count(), StatSnapshot.objects.count())
"""


def time_changes(page, client: httpx.Client, rounds: int) -> dict[str, list[float]]:
    """Seconds from sending stream_started, and from sending a provision and from its answer, to
    the row on screen. Each round starts on a settled page, so no refresh already under way for
    an earlier change shortens it."""
    engine = provision(client)
    port = engine["host_http_port"]
    times = {"stream": [], "provision_sent": [], "provision_answered": []}
    for number in range(rounds):
        key = f"bench-{number}"
        body = acexy_started(play(port, key), port, key, labels={"stream_id": key})
        page.wait_for_timeout(SETTLE_MS)
        page.evaluate(WATCH_FOR, [f'button.stream[data-id="{key}"]', 1])
        sent = time.time()
        client.post("/events/stream_started", json=body).raise_for_status()
        times["stream"].append(seconds_until_seen(page, sent))
        client.post("/events/stream_ended", json={"stream_id": key}).raise_for_status()
    rows = "#engines tbody tr[data-engine]"
    for _ in range(min(rounds, 5)):
        # The engine of the previous round is gone from the page before this one is timed.
        page.wait_for_function(f"document.querySelectorAll('{rows}').length === 1")
        page.wait_for_timeout(SETTLE_MS)
        page.evaluate(WATCH_FOR, [rows, 2])
        sent = time.time()
        answer = client.post("/provision/acestream", json={}).json()
        answered = time.time()
        times["provision_sent"].append(seconds_until_seen(page, sent))
        times["provision_answered"].append(seconds_until_seen(page, answered))
        client.delete(f"/containers/{answer['container_id']}").raise_for_status()
    return times


def time_first_load(chromium, state, base_url: str, rounds: int) -> dict[str, list[float]]:
    context = chromium.new_context(viewport=DESKTOP, storage_state=state)
    page = context.new_page()
    figures = {"html": [], "first_contentful_paint": [], "load": []}
    for _ in range(rounds):
        page.goto(f"{base_url}/panel", wait_until="load")
        timing = page.evaluate("""() => new Promise((resolve) => {
            const nav = performance.getEntriesByType('navigation')[0];
            new PerformanceObserver((entries) => {
                const paint = entries.getEntriesByName('first-contentful-paint')[0];
                if (paint) resolve({html: nav.responseEnd - nav.requestStart,
                                    load: nav.loadEventEnd - nav.startTime, fcp: paint.startTime});
            }).observe({type: 'paint', buffered: true});
        })""")
        figures["html"].append(timing["html"] / 1000)
        figures["load"].append(timing["load"] / 1000)
        figures["first_contentful_paint"].append(timing["fcp"] / 1000)
    context.close()
    return figures


def time_requests(base_url: str, cookies: dict, path: str, rounds: int) -> tuple[list[float], int]:
    with httpx.Client(base_url=base_url, cookies=cookies, timeout=30) as client:
        client.get(path).raise_for_status()
        durations = []
        for _ in range(rounds):
            began = time.perf_counter()
            response = client.get(path)
            durations.append(time.perf_counter() - began)
            response.raise_for_status()
    return durations, len(response.content)


def main(rounds: int = 20) -> list[Row]:
    image = engine_sim_image()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        with Orchestrator(env={"TARGET_IMAGE": image}, processes=("web", "worker")) as live:
            context = chromium.new_context(viewport=DESKTOP)
            page = context.new_page()
            log_in(page, live.base_url)
            wait_live(page)
            with live.client() as client:
                changes = time_changes(page, client, rounds)
                for engine in client.get("/engines").json():
                    client.delete(f"/containers/{engine['container_id']}")
            context.close()

        with Orchestrator(env={"TARGET_IMAGE": image}, processes=("web",)) as loaded:
            counts = loaded.manage("shell", "-c", SEED.replace("HISTORY", str(HISTORY))).stdout.split()[-3:]
            context = chromium.new_context()
            log_in(context.new_page(), loaded.base_url)
            state = context.storage_state()
            cookies = {cookie["name"]: cookie["value"] for cookie in context.cookies()}
            context.close()
            browser = time_first_load(chromium, state, loaded.base_url, max(5, rounds // 2))
            html, html_bytes = time_requests(loaded.base_url, cookies, "/panel", rounds)
            snapshot, json_bytes = time_requests(loaded.base_url, cookies, "/panel/state.json", rounds)
        chromium.close()

    streams = changes["stream"]
    rows = [
        Row("stream_started sent -> stream on the panel, median", median(streams), ORIGINAL_POLL_S,
            "< 1 s (original: 5 s poll)"),
        Row("stream_started sent -> stream on the panel, p95", percentile(streams, 95), ORIGINAL_POLL_S,
            "< 1 s"),
        Row("POST /provision sent -> engine on the panel, median", median(changes["provision_sent"]),
            ORIGINAL_POLL_S, "docker run + < 1 s"),
        Row("POST /provision answered -> engine on the panel, median",
            median(changes["provision_answered"]), ORIGINAL_POLL_S, "< 1 s"),
        Row("GET /panel (50 engines, 200 streams), median", median(html), None, "server time"),
        Row("GET /panel, p95", percentile(html, 95), None, ""),
        Row("GET /panel/state.json (same data), median", median(snapshot), None, "each live update"),
        Row("Chromium: first contentful paint, median", median(browser["first_contentful_paint"]),
            None, "data in the first paint"),
        Row("Chromium: load event, median", median(browser["load"]), None, ""),
    ]
    print_table(f"panel, {rounds} rounds (baseline: the original panel's 5 s poll)", rows)
    print(f"\nseeded: {' engines, '.join(counts[:2])} streams, {counts[2]} stat snapshots; "
          f"/panel {html_bytes / 1024:.0f} KiB, state.json {json_bytes / 1024:.0f} KiB; "
          f"stream latency spread {statistics.pstdev(streams) * 1000:.0f} ms")
    return rows


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
