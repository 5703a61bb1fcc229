"""Reading the fleet under load, and what the processes weigh.

1. p50/p99 of `GET /engines`, `GET /streams?container_id=…&status=started` and
   `GET /orchestrator/status` (which every acexy polls every 30 s) with 8 concurrent
   connections (wrk, after a 3 s warm-up) at 50 engines and 500 started streams, against the same
   reads of an empty fleet; with one web process (the default), then with WEB_PROCESSES=2.
2. Memory of web and worker at 100 engines, one web process: RSS summed over each process tree,
   and PSS (which counts pages that processes share once, split between them).

Run: python -m bench.fleet
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench.common import Row, print_table
from orchestrator_site.processes import MANAGE
from tests.support.images import engine_sim_image
from tests.support.live import Orchestrator

CLIENTS = 8
WRK_SECONDS = 15
# Connections, request threads and cached answers are made on first use; the figure is the
# steady state.
WARM_UP_SECONDS = 3
STREAMS_PER_ENGINE = 10


def provision(client: httpx.Client, count: int) -> list[dict]:
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(
            lambda _: client.post("/provision/acestream", json={"wait_ready": True}), range(count)))
    return [answer.json() for answer in answers if answer.status_code == 200]


def start_streams(client: httpx.Client, engines: list[dict]) -> None:
    for engine in engines:
        port = engine["host_http_port"]
        for number in range(STREAMS_PER_ENGINE):
            key = f"{engine['container_name']}-{number}"
            session = httpx.get(f"http://127.0.0.1:{port}/ace/getstream",
                                params={"id": key, "format": "json"}, timeout=10).json()["response"]
            client.post("/events/stream_started", json={
                "engine": {"host": "localhost", "port": port},
                "stream": {"key_type": "content_id", "key": key},
                "session": {"playback_session_id": session["playback_session_id"],
                            "stat_url": session["stat_url"], "command_url": session["command_url"],
                            "is_live": 1},
            }).raise_for_status()


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _wrk_ms(output: str, percent: str) -> float:
    """One latency percentile from `wrk --latency` output, in milliseconds."""
    line = next(line for line in output.splitlines() if line.strip().startswith(percent))
    value = line.split()[1]
    unit = value.lstrip("0123456789.")
    return float(value[: -len(unit)]) * _UNITS[unit]


def read_latencies(orchestrator: Orchestrator, engines: list[dict]) -> dict[str, dict[str, float]]:
    """p50/p99 in ms of both reads under 8 concurrent connections, measured by wrk: a C load
    generator, so the client does not compete with the server for Python's GIL."""
    container_id = engines[0]["container_id"] if engines else "none"
    paths = {"engines": "/engines",
             "streams": f"/streams?container_id={container_id}&status=started",
             "status": "/orchestrator/status"}
    found = {}
    for kind, path in paths.items():
        outputs = [subprocess.run(
            ["wrk", "-t2", f"-c{CLIENTS}", f"-d{seconds}s", "--latency",
             "-H", f"Authorization: Bearer {orchestrator.api_key}", orchestrator.base_url + path],
            capture_output=True, text=True, check=True).stdout
            for seconds in (WARM_UP_SECONDS, WRK_SECONDS)]
        found[kind] = {"p50": _wrk_ms(outputs[-1], "50%"), "p99": _wrk_ms(outputs[-1], "99%")}
    return found


def _tree(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    found = [pid]
    if children.exists():
        for child in children.read_text().split():
            found += _tree(int(child))
    return found


def _memory_kib(pid: int, field: str) -> int:
    path = Path(f"/proc/{pid}/smaps_rollup" if field == "Pss" else f"/proc/{pid}/status")
    key = "Pss:" if field == "Pss" else "VmRSS:"
    for line in path.read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1])
    return 0


def memory_mib(orchestrator: Orchestrator, field: str) -> dict[str, float]:
    return {name: sum(_memory_kib(pid, field) for pid in _tree(child.pid)) / 1024
            for name, child in orchestrator.children.items()}


# The worker as django-q2 and Django document it: `manage.py qcluster` (forked processes) for the
# schedules and tasks, and the fast loops in a process of their own.
LOOPS_ONLY = (
    "import signal, threading\n"
    "from orchestrator_site.management.commands.worker import fast_loops\n"
    "stop = threading.Event()\n"
    "signal.signal(signal.SIGTERM, lambda *_: stop.set())\n"
    "loops = fast_loops(stop)\n"
    "for loop in loops: loop.start()\n"
    "while not stop.wait(1): pass\n"
)


def documented_worker(orchestrator: Orchestrator) -> None:
    """Replace our worker (django-q2's parts as threads, orchestrator_site/task_threads.py) by
    qcluster and a loops process, on the same database and engines."""
    worker = orchestrator.children.pop("worker")
    os.killpg(worker.pid, signal.SIGTERM)
    worker.wait(timeout=30)
    orchestrator._spawn("qcluster", [sys.executable, MANAGE, "qcluster"])
    orchestrator._spawn("loops", [sys.executable, MANAGE, "shell", "-c", LOOPS_ONLY])


def restart(orchestrator: Orchestrator, web_processes: int) -> None:
    """Same database and engines, another number of web processes."""
    orchestrator.stop()
    orchestrator.env["WEB_PROCESSES"] = str(web_processes)
    orchestrator.start(migrate=False)


def main() -> list[Row]:
    image = engine_sim_image()
    env = {"TARGET_IMAGE": image, "MAX_REPLICAS": "120", "AUTO_DELETE": "false",
           "HEALTH_CHECK_INTERVAL_S": "30", "WEB_PROCESSES": "1"}
    with Orchestrator(env=env) as orchestrator:
        empty = read_latencies(orchestrator, [])
        with orchestrator.client(timeout=120) as client:
            engines = provision(client, 50)
            start_streams(client, engines)
        loaded = {1: read_latencies(orchestrator, engines)}
        restart(orchestrator, 2)
        loaded[2] = read_latencies(orchestrator, engines)
        restart(orchestrator, 1)
        with orchestrator.client(timeout=120) as client:
            engines += provision(client, 100 - len(engines))
            time.sleep(35)  # a health pass and several collector passes over the full fleet
            rss = memory_mib(orchestrator, "Rss")
            pss = memory_mib(orchestrator, "Pss")
            documented_worker(orchestrator)
            time.sleep(35)
            documented = memory_mib(orchestrator, "Pss")
            for engine in engines:
                client.delete(f"/containers/{engine['container_id']}")
    rows = []
    for kind, path in (("engines", "GET /engines"),
                       ("streams", "GET /streams?container_id&status=started"),
                       ("status", "GET /orchestrator/status")):
        for processes, found in loaded.items():
            where = f"50 engines/500 streams, 8 clients, {processes} web process" + (
                "es" if processes > 1 else "")
            rows.append(Row(f"{path} p50, {where}", found[kind]["p50"], empty[kind]["p50"],
                            "baseline: empty fleet, 1 web process", unit="ms"))
            rows.append(Row(f"{path} p99, {where}", found[kind]["p99"], 50.0, "< 50 ms",
                            unit="ms"))
    for field, sizes in (("RSS", rss), ("PSS", pss)):
        parts = ", ".join(f"{name} {size:.0f}" for name, size in sizes.items())
        rows.append(Row(f"{field} {'+'.join(sizes)} at {len(engines)} engines ({parts})",
                        sum(sizes.values()), 350.0, "PSS <= 350 MB", unit="M"))
    parts = ", ".join(f"{name} {size:.0f}" for name, size in documented.items())
    rows.append(Row(f"PSS with qcluster + a loops process instead of our worker ({parts})",
                    sum(documented.values()), 350.0, "<= 350 MB: the documented way's figure",
                    unit="M"))
    print_table("fleet reads and memory (baselines: empty fleet, goals)", rows)
    return rows


if __name__ == "__main__":
    main()
