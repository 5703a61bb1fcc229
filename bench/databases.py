"""The same work on each database the orchestrator accepts: the default SQLite file, a sqlite://
URL (which gets the same options), and PostgreSQL. Provisioning until get_status, stream events
at 100 a second, and 50 provisions at once (0 errors, 0 duplicate names or ports). Baseline: the
default SQLite file, measured in the same run.

PostgreSQL is the one scripts/setup.sh --dev starts (BENCH_POSTGRES_URL overrides it).

Run: python -m bench.databases
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from bench.common import ROOT, Row, median, percentile, print_table

POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgres://orch:orch@127.0.0.1/orch")
VARIANTS = ("sqlite", "sqlite-url", "postgres")
EVENT_RATE = 100
EVENT_SECONDS = 30
CONCURRENT = 50
PROVISION_ROUNDS = 10


def measure(variant: str) -> dict:
    """In a process of its own (the environment is read once at import): the figures of one
    database, as JSON on the last line of stdout."""
    from bench import provision
    from tests.support.images import engine_sim_image
    from tests.support.live import Orchestrator
    from tests.support.load import EventLoad

    image = engine_sim_image()
    env = {"TARGET_IMAGE": image, "MAX_REPLICAS": "60", "AUTO_DELETE": "false"}
    orchestrator = Orchestrator(env=env)
    if variant == "sqlite-url":
        orchestrator.env["DATABASE_URL"] = f"sqlite:///{orchestrator.data_dir}/fleet.sqlite3"
        orchestrator.manage("migrate", "--no-input", "-v0")
    found: dict = {}
    with orchestrator.start():
        with orchestrator.client(timeout=120) as client:
            provision.through_orchestrator(client)  # warm-up
            ready = [provision.through_orchestrator(client)[1] for _ in range(PROVISION_ROUNDS)]
            found["provision_median"] = median(ready)
            with ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
                answers = list(pool.map(lambda _: orchestrator.client(timeout=120).post(
                    "/provision/acestream", json={"labels": {}, "env": {}}), range(CONCURRENT)))
            bodies = [answer.json() for answer in answers if answer.status_code == 200]
            found["concurrent_errors"] = sum(answer.status_code != 200 for answer in answers)
            found["concurrent_duplicates"] = (
                2 * len(bodies) - len({b["container_name"] for b in bodies})
                - len({b["host_http_port"] for b in bodies}))
            engine = bodies[0]
            for body in bodies[1:]:
                client.delete(f"/containers/{body['container_id']}")
        load = EventLoad(orchestrator.base_url, orchestrator.api_key, engine["host_http_port"],
                         rate=EVENT_RATE, duration=EVENT_SECONDS).run()
        found["events_per_s"] = len(load.statuses) / load.elapsed
        found["events_p50_ms"] = median(load.latencies) * 1000
        found["events_p99_ms"] = percentile(load.latencies, 99) * 1000
        found["events_failed"] = len(load.statuses) - load.statuses.count(200)
        with orchestrator.client(timeout=120) as client:
            client.delete(f"/containers/{engine['container_id']}")
    return found


def run(variant: str) -> dict:
    env = {**os.environ}
    env.pop("TEST_DATABASE_URL", None)
    if variant == "postgres":
        env["TEST_DATABASE_URL"] = POSTGRES
    result = subprocess.run([sys.executable, "-m", "bench.databases", variant], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{variant}: {result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> list[Row]:
    figures = {variant: run(variant) for variant in VARIANTS}
    base = figures["sqlite"]
    rows = []
    for variant in VARIANTS[1:]:
        found = figures[variant]
        rows += [
            Row(f"{variant}: provision until get_status, median", found["provision_median"],
                base["provision_median"], "ratio <= 1.2"),
            Row(f"{variant}: events at {EVENT_RATE}/s, p99", found["events_p99_ms"],
                base["events_p99_ms"], "< 100 ms", unit="ms"),
        ]
    for variant in VARIANTS:
        found = figures[variant]
        rows += [
            Row(f"{variant}: events at {EVENT_RATE}/s answered per second", found["events_per_s"],
                EVENT_RATE, f">= {EVENT_RATE}/s", unit="/s"),
            Row(f"{variant}: {CONCURRENT} provisions at once: errors + duplicate names/ports "
                f"(+ failed events)", found["concurrent_errors"] + found["concurrent_duplicates"]
                + found["events_failed"], None, "0", unit=" "),
        ]
    print_table("databases (baseline: the default SQLite file, same run)", rows)
    return rows


if __name__ == "__main__":
    if len(sys.argv) > 1:
        print(json.dumps(measure(sys.argv[1])))
    else:
        main()
