"""Stats collection benchmark: one collector pass over 1000 started streams on 20 simulator engines,
against the 5 s interval, and the CPU the collector loop costs its process over a minute.

    python bench/stats.py [--engines 20] [--streams-per-engine 50] [--passes 5] [--seconds 60]

Real Docker and engine simulator containers, the orchestrator's own code, in an isolated data
folder, container label and port block (tests.environment); its containers are removed at the end.
Streams are reported through POST /events/stream_started in acexy's shape after a real
`getstream?format=json` on their engine. Each stream's history is first filled to
STATS_HISTORY_MAX, so every pass also trims: the steady state of a fleet that has run for an hour.

Figures:
1. one collect_pass() with every request at once, median and worst of --passes, against
   COLLECT_INTERVAL_S (goal ratio <= 0.5): the work a pass is.
2. CPU time of this process while the worker's loop (core.loops.run_every) runs the
   collector's paced pass (requests spread over COLLECT_SPREAD of the interval) every
   COLLECT_INTERVAL_S for --seconds, as a share of one core (goal <= 0.25), and how long those
   passes took (goal: within the interval).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bench.common  # noqa: E402 - isolates this run first
from bench.common import Row, median, print_table  # noqa: E402
from tests import environment  # noqa: E402

INTERVAL_S = 5


def setup_environment(engines: int) -> None:
    from tests.support.images import engine_sim_image

    os.environ.update({
        "TARGET_IMAGE": engine_sim_image(),
        "MAX_REPLICAS": str(engines + 10),
        "COLLECT_INTERVAL_S": str(INTERVAL_S),
        "DJANGO_SETTINGS_MODULE": "orchestrator_site.settings",
    })
    bench.common.setup_django()


def provision(count: int) -> list:
    from django.db import connection

    from engines import health, provisioning

    def one(_):
        try:
            engine = provisioning.provision_engine()
            reason = health.poll_get_status(engine.host, engine.port, 30)
            if reason:
                raise RuntimeError(f"{engine.container_name} not ready: {reason}")
            return engine
        finally:
            connection.close()

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(one, range(count)))


def start_streams(engines, per_engine: int) -> int:
    """Play on each engine as acexy does and report each stream through the API."""
    import httpx
    from django.test import Client

    api = Client(headers={"Authorization": f"Bearer {environment.TEST_ENV['API_KEY']}"})
    started = 0
    with httpx.Client(timeout=10) as http:
        for engine in engines:
            for number in range(per_engine):
                key = f"{engine.container_name}-{number}"
                session = http.get(f"http://localhost:{engine.port}/ace/getstream",
                                   params={"id": key, "format": "json"}).json()["response"]
                body = {
                    "engine": {"host": "localhost", "port": engine.port},
                    "stream": {"key_type": "content_id", "key": key},
                    "session": {name: session[name] for name in (
                        "playback_session_id", "stat_url", "command_url", "is_live")},
                    "labels": {},
                }
                response = api.post("/events/stream_started", body, content_type="application/json")
                if response.status_code != 200:
                    raise RuntimeError(f"stream_started answered {response.status_code}: "
                                       f"{response.content[:300]!r}")
                started += 1
    return started


def fill_histories() -> int:
    """Give every started stream a full history, as after STATS_HISTORY_MAX passes (oldest rows
    first, so row order is time order as the collector writes it)."""
    from datetime import timedelta

    from django.db import connection, transaction
    from django.utils import timezone

    from core.config import conf
    from streams.models import StatSnapshot, Stream

    keep = conf().STATS_HISTORY_MAX
    ids = list(Stream.objects.started().values_list("pk", flat=True))
    oldest = timezone.now() - timedelta(seconds=keep * INTERVAL_S)
    table = StatSnapshot._meta.db_table
    rows = [(stream_id, oldest + timedelta(seconds=step * INTERVAL_S), 10, 500, 50, step, step, "dl")
            for step in range(keep) for stream_id in ids]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} (stream_id, ts, peers, speed_down, speed_up, downloaded, "
            "uploaded, status) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", rows)
    return len(rows)


def time_passes(count: int) -> list:
    from streams.collector import collect_pass

    collect_pass()  # warm-up: imports, first connections
    return check_served([collect_pass() for _ in range(count)])


def check_served(passes: list) -> list:
    """Figures only count when every stream was measured: a pass with errors is a fleet in
    trouble (an engine restarted, dockerd restarted by someone else), not the collector's speed."""
    failed = [summary for summary in passes if summary.errors or summary.ended]
    if failed:
        raise RuntimeError(f"engines stopped serving their streams during the run: {failed[0]}")
    return passes


def collector_cpu_share(seconds: float) -> tuple[float, list]:
    """CPU of this whole process (every thread) while the worker's loop runs the collector."""
    from core.loops import run_every
    from core.models import JobRun
    from streams.collector import paced_pass

    passes = []

    def counted_pass():
        passes.append(paced_pass())

    stop = threading.Event()
    loop = threading.Thread(target=run_every,
                            args=("collector", lambda: INTERVAL_S, counted_pass, stop))
    cpu_before, wall_before = time.process_time(), time.monotonic()
    loop.start()
    time.sleep(seconds)
    stop.set()
    loop.join()
    cpu, wall = time.process_time() - cpu_before, time.monotonic() - wall_before
    if JobRun.objects.get(name="collector").last_error:
        raise RuntimeError(f"collector pass failed: {JobRun.objects.get(name='collector').last_error}")
    return cpu / wall, check_served(passes)


def remove_containers() -> None:
    import docker

    client = docker.from_env()
    for container in client.containers.list(
            all=True, filters={"label": environment.TEST_ENV["CONTAINER_LABEL"]}):
        container.remove(force=True)


def main() -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", type=int, default=20)
    parser.add_argument("--streams-per-engine", type=int, default=50)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    setup_environment(args.engines)
    try:
        began = time.monotonic()
        engines = provision(args.engines)
        provisioned = time.monotonic()
        streams = start_streams(engines, args.streams_per_engine)
        reported = time.monotonic()
        snapshots = fill_histories()
        print(f"{len(engines)} engines in {provisioned - began:.0f} s, {streams} streams started "
              f"in {reported - provisioned:.0f} s, {snapshots} snapshots prefilled in "
              f"{time.monotonic() - reported:.0f} s")
        passes = time_passes(args.passes)
        for summary in passes:
            print(f"  pass: {summary}")
        cpu_share, paced = collector_cpu_share(args.seconds)
    finally:
        remove_containers()
        shutil.rmtree(environment.DATA_DIR, ignore_errors=True)
    seconds = [summary.seconds for summary in passes]
    from core.config import conf

    spread = conf().COLLECT_SPREAD
    rows = [
        Row("collect_pass over all streams, median", median(seconds), INTERVAL_S, "ratio <= 0.5"),
        Row("collect_pass over all streams, worst", max(seconds), INTERVAL_S, "ratio <= 0.5"),
        Row("  of which fetching the stat_urls, median",
            median([summary.fetch_seconds for summary in passes]), INTERVAL_S, "-"),
        Row(f"collector CPU, share of one core ({len(paced)} paced passes in {args.seconds:.0f} s)",
            cpu_share, 1.0, "<= 0.25", unit=""),
        Row(f"paced pass (COLLECT_SPREAD {spread}), median", median([p.seconds for p in paced]),
            INTERVAL_S, "ratio < 1"),
    ]
    print_table(f"stats collection: {len(engines)} engines, {streams} streams, "
                f"history {passes[-1].trimmed} trimmed per pass (baseline: the {INTERVAL_S} s "
                "interval; one core)", rows)
    return rows


if __name__ == "__main__":
    main()
