"""Stream events for a minute against the running orchestrator (web and worker on SQLite): 100 a
second on one web process (the goal: p99 under 100 ms), then 200 a second on one and on two web
processes. Every one answered, none lost or duplicated, and how fast they are answered compared
with a trivial request measured in the same run.

Run: python -m bench.events [seconds] [rate web_processes]
"""

from __future__ import annotations

import sys
import time

from bench.common import Row, median, percentile, print_table
from tests.support.images import engine_sim_image
from tests.support.live import Orchestrator
from tests.support.load import EventLoad

# (events per second, web processes, goal for the p99)
RUNS = ((100, 1, "< 100 ms"), (200, 1, "-"), (200, 2, "-"))


def trivial_latencies(orchestrator: Orchestrator, count: int = 300) -> list[float]:
    timings = []
    with orchestrator.client() as client:
        for _ in range(count):
            began = time.perf_counter()
            client.get("/vpn/status").raise_for_status()
            timings.append(time.perf_counter() - began)
    return timings


def main(seconds: float = 60, runs=RUNS) -> list[Row]:
    return [row for rate, processes, goal in runs
            for row in one_run(seconds, rate, processes, goal)]


def one_run(seconds: float, rate: int, web_processes: int, p99_goal: str = "-") -> list[Row]:
    env = {"TARGET_IMAGE": engine_sim_image(), "AUTO_DELETE": "false", "COLLECT_INTERVAL_S": "5",
           "WEB_PROCESSES": str(web_processes)}
    with Orchestrator(env=env) as orchestrator:
        with orchestrator.client() as client:
            engine = client.post("/provision/acestream", json={"wait_ready": True}).json()
        baseline = trivial_latencies(orchestrator)
        load = EventLoad(orchestrator.base_url, orchestrator.api_key, engine["host_http_port"],
                         rate=rate, duration=seconds).run()
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
            len(load.statuses) / load.elapsed, rate, f">= {rate}/s", unit="/s"),
        Row("event answer p50 (vs GET /vpn/status p50)", median(load.latencies) * 1000,
            median(baseline) * 1000, "-", unit="ms"),
        Row("event answer p99 (vs GET /vpn/status p99)", percentile(load.latencies, 99) * 1000,
            percentile(baseline, 99) * 1000, p99_goal, unit="ms"),
        Row(f"events failed / streams lost / duplicated (of {sent} streams)",
            failed + lost + duplicated, None, "0", unit=" "),
        Row("'database is locked' in the logs", locked, None, "0", unit=" "),
    ]
    print_table(f"stream events at {rate}/s for {seconds:.0f} s, {web_processes} web process"
                + ("es" if web_processes > 1 else ""), rows)
    return rows


if __name__ == "__main__":
    arguments = sys.argv[1:]
    main(float(arguments[0]) if arguments else 60,
         ((int(arguments[1]), int(arguments[2]), "-"),) if len(arguments) >= 3 else RUNS)
