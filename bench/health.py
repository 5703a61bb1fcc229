"""Health benchmark: how fast a dead or hung engine stops being offered, and what one health pass
over 100 engines costs. Real Docker, engine simulator containers, the orchestrator's own code.

    python bench/health.py [--engines 100] [--kills 5] [--hung 10]

Runs in an isolated data folder, container label and port block (tests.environment), with the
production defaults HEALTH_CHECK_INTERVAL_S=30 and HEALTH_CHECK_TIMEOUT_S=5, and removes its
containers at the end. Figures:
1. `docker kill` -> the API no longer offers the engine (absent, or not healthy), with the Docker
   events listener running. Baseline: the original noticed deaths on its 10 s monitor tick.
2. engine starts hanging -> shown `unhealthy`, worst case: it hangs just after a pass, so one
   interval passes, then the pass that catches it (measured, with 10 engines hanging). Baseline:
   the same with the checks made one after another (each hung engine costs a whole timeout).
3. one check_all() pass over N engines, all healthy, then with 10 hanging. Baseline: the same
   probes one after another.
"""

from __future__ import annotations

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

ORIGINAL_MONITOR_TICK_S = 10.0
AUTH = {"Authorization": f"Bearer {environment.TEST_ENV['API_KEY']}"}


def setup_environment(engines: int) -> None:
    from tests.support.images import engine_sim_image

    os.environ.update({
        "TARGET_IMAGE": engine_sim_image(),
        "MAX_REPLICAS": str(max(engines, 20) + 10),
        "HEALTH_CHECK_INTERVAL_S": "30",
        "HEALTH_CHECK_TIMEOUT_S": "5",
        "DJANGO_SETTINGS_MODULE": "orchestrator_site.settings",
    })
    bench.common.setup_django()


def provision(count: int) -> list:
    from django.db import connection

    from engines import provisioning

    def one(_):
        try:
            return provisioning.provision_engine()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        engines = list(pool.map(one, range(count)))
    wait_healthy(engines)
    return engines


def wait_healthy(engines, timeout: float = 60) -> None:
    from engines import health

    deadline = time.monotonic() + timeout
    pending = list(engines)
    while pending:
        reasons = health.probe_many([(e.host, e.port) for e in pending], timeout=2)
        pending = [e for e, reason in zip(pending, reasons, strict=True) if reason]
        if pending and time.monotonic() > deadline:
            raise SystemExit(f"{len(pending)} engines never answered get_status")
        time.sleep(0.2)


def api_offers(client, container_id: str) -> bool:
    listed = {e["container_id"]: e for e in client.get("/engines", headers=AUTH).json()}
    engine = listed.get(container_id)
    return engine is not None and engine["health_status"] != "unhealthy" and engine["state"] == "running"


def bench_kill(count: int) -> tuple[list[float], list[float]]:
    """Seconds from `docker kill` to /engines no longer offering the engine, and how long the
    `docker kill` call itself took each time (Docker's share of it)."""
    from django.db import connection
    from django.test import Client

    from engines import docker_gateway
    from engines.events import listen_for_events

    engines = provision(count)
    client = Client()
    stop, connected = threading.Event(), threading.Event()
    listener = threading.Thread(target=listen_for_events, args=(stop, connected), daemon=True)
    listener.start()
    connected.wait(10)
    figures, kill_calls = [], []
    try:
        for engine in engines:
            assert api_offers(client, engine.container_id)
            container = docker_gateway.client().containers.get(engine.container_id)
            began = time.monotonic()
            container.kill()
            kill_calls.append(time.monotonic() - began)
            while api_offers(client, engine.container_id):
                if time.monotonic() - began > 30:
                    raise SystemExit("a killed engine was still offered after 30 s")
                time.sleep(0.005)
            figures.append(time.monotonic() - began)
    finally:
        stop.set()
        listener.join(5)
        connection.close()
    return figures, kill_calls


def bench_pass(engines: list, hung_count: int) -> dict[str, float]:
    """Seconds of a check_all() pass and of the same checks made one after another, with every
    engine healthy, then with `hung_count` of them hanging."""
    import httpx

    from core.config import conf
    from engines import health

    timeout = conf().HEALTH_CHECK_TIMEOUT_S

    def sequential() -> float:
        """The same checks one after another, over one client."""
        began = time.monotonic()
        with httpx.Client(timeout=timeout) as client:
            for engine in engines:
                try:
                    health.interpret(client.get(health.status_url(engine.host, engine.port)))
                except httpx.HTTPError:
                    pass
        return time.monotonic() - began

    def concurrent() -> float:
        began = time.monotonic()
        health.check_all()
        return time.monotonic() - began

    def set_fault(engine, mode):
        httpx.get(f"http://{engine.host}:{engine.port}/sim/fault?mode={mode}", timeout=5)

    concurrent()  # warm-up: first connections through each docker-proxy
    figures = {"pass": concurrent(), "sequential": sequential()}
    hung = engines[:: max(1, len(engines) // hung_count)][:hung_count]
    for engine in hung:
        set_fault(engine, "hang")
    try:
        figures["hung_pass"] = concurrent()
        figures["hung_sequential"] = sequential()
    finally:
        for engine in hung:
            set_fault(engine, "ok")
    return figures


def remove_containers() -> None:
    from core.config import conf
    from engines import docker_gateway

    for view in docker_gateway.list_containers(conf().CONTAINER_LABEL):
        docker_gateway.remove_container(view.id, stop_timeout=1)


def main(argv: list[str]) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", type=int, default=100)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--hung", type=int, default=10, help="engines hanging in the hung pass")
    args = parser.parse_args(argv)
    setup_environment(args.engines)
    from core.config import conf

    cfg = conf()
    try:
        kills, kill_calls = bench_kill(args.kills)
        print(f"docker kill -> not offered, each: {', '.join(f'{s:.3f}' for s in kills)} s; "
              f"the docker kill call itself: {', '.join(f'{s:.3f}' for s in kill_calls)} s",
              flush=True)
        remove_containers()
        began = time.monotonic()
        engines = provision(args.engines)
        print(f"{args.engines} engines started and ready in {time.monotonic() - began:.1f} s",
              flush=True)
        passes = bench_pass(engines, args.hung)
    finally:
        remove_containers()
        shutil.rmtree(environment.DATA_DIR, ignore_errors=True)

    interval, timeout = cfg.HEALTH_CHECK_INTERVAL_S, cfg.HEALTH_CHECK_TIMEOUT_S
    n, hung = len(engines), args.hung
    print_table("Health: death and hang detection, health pass", [
        Row(f"docker kill -> not offered by /engines (median of {len(kills)})", median(kills),
            ORIGINAL_MONITOR_TICK_S, "< 1 s; baseline: the original's 10 s monitor tick"),
        Row("  of which after the docker kill call returned",
            median([k - c for k, c in zip(kills, kill_calls, strict=True)]),
            ORIGINAL_MONITOR_TICK_S, "the orchestrator's own share"),
        Row(f"hang -> unhealthy, worst: interval + a pass ({hung}/{n} hung)",
            interval + passes["hung_pass"], interval + passes["hung_sequential"],
            f"<= interval + timeout = {interval + timeout:.0f} s; baseline: sequential checks"),
        Row(f"check_all() over {n} engines, all healthy", passes["pass"], passes["sequential"],
            f"< timeout = {timeout:.0f} s; baseline: the same probes one after another"),
        Row(f"check_all() over {n} engines, {hung} hung", passes["hung_pass"],
            passes["hung_sequential"],
            f"~ timeout = {timeout:.0f} s; baseline: the same probes one after another"),
    ])


if __name__ == "__main__":
    main(sys.argv[1:])
