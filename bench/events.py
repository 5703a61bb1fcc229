"""Stream events at 200 a second for a minute against the running orchestrator (web, worker and
worker on SQLite; one web process, then WEB_PROCESSES=2): every one answered, none lost or
duplicated, and how fast they are answered compared with a trivial request measured in the same
run.

Run: python -m bench.events [seconds]
"""

from __future__ import annotations

import sys
import time

from bench.common import Row, median, percentile, print_table
from tests.support.images import engine_sim_image
from tests.support.live import Orchestrator
from tests.support.load import EventLoad

RATE = 200


def trivial_latencies(orchestrator: Orchestrator, count: int = 300) -> list[float]:
    timings = []
    with orchestrator.client() as client:
        for _ in range(count):
            began = time.perf_counter()
            client.get("/vpn/status").raise_for_status()
            timings.append(time.perf_counter() - began)
    return timings


def main(seconds: float = 60) -> list[Row]:
    return [row for processes in (1, 2) for row in one_run(seconds, processes)]


def one_run(seconds: float, web_processes: int) -> list[Row]:
    env = {"TARGET_IMAGE": engine_sim_image(), "AUTO_DELETE": "false", "COLLECT_INTERVAL_S": "5",
           "WEB_PROCESSES": str(web_processes)}
    with Orchestrator(env=env) as orchestrator:
        with orchestrator.client() as client:
            engine = client.post("/provision/acestream", json={"wait_ready": True}).json()
        baseline = trivial_latencies(orchestrator)
        load = EventLoad(orchestrator.base_url, orchestrator.api_key, engine["host_http_port"],
                         rate=RATE, duration=seconds).run()
        with orchestrator.client(timeout=120) as client:
            stored = [s["id"] for s in client.get("/streams", params={"status": "ended"}).json()]
            client.delete(f"/containers/{engine['container_id']}")
        locked = sum(orchestrator.logs(name).count("database is locked")
                     for name in orchestrator.children)
    sent = len(load.stream_ids)
    lost = len(set(load.stream_ids) - set(stored))
    duplicated = len(stored) - len(set(stored))
    failed = len(load.statuses) - load.statuses.count(200)
    rows = [
        Row(f"events answered per second ({len(load.statuses)} in {load.elapsed:.0f} s)",
            len(load.statuses) / load.elapsed, RATE, f">= {RATE}/s", unit="/s"),
        Row("event answer p50 (vs GET /vpn/status p50)", median(load.latencies) * 1000,
            median(baseline) * 1000, "-", unit="ms"),
        Row("event answer p99 (vs GET /vpn/status p99)", percentile(load.latencies, 99) * 1000,
            percentile(baseline, 99) * 1000, "-", unit="ms"),
        Row(f"events failed / streams lost / duplicated (of {sent} streams)",
            failed + lost + duplicated, None, "0", unit=" "),
        Row("'database is locked' in the logs", locked, None, "0", unit=" "),
    ]
    print_table(f"stream events at {RATE}/s for {seconds:.0f} s, {web_processes} web process"
                + ("es" if web_processes > 1 else ""), rows)
    return rows


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 60)
