"""With real processes: PATCH min_replicas 0 -> 2 and two engines appear, no process restarted
(the saving process asks the worker for a reconcile pass at once); a change to a schedule's
interval (AUTOSCALE_INTERVAL_S) is in the worker's schedules at its scheduler's next tick.
Prints the seconds from the saved setting to its effect."""

import time

import pytest

from tests.support.events import wait_for
from tests.support.live import Orchestrator

pytestmark = [pytest.mark.docker, pytest.mark.live, pytest.mark.slow,
              pytest.mark.django_db(transaction=True)]


def start(engine_image, **env) -> Orchestrator:
    orchestrator = Orchestrator(env={"TARGET_IMAGE": engine_image, "MIN_REPLICAS": "0", **env})
    orchestrator.start()
    wait_for(lambda: "following Docker events" in orchestrator.logs("worker"), timeout=30)
    return orchestrator


def running_engines(client) -> list[dict]:
    return [engine for engine in client.get("/engines").json() if engine["state"] == "running"]


def pids(orchestrator) -> dict[str, int]:
    assert all(child.poll() is None for child in orchestrator.children.values())
    return {name: child.pid for name, child in orchestrator.children.items()}


def test_min_replicas_0_to_2_starts_two_engines_without_a_restart(fleet, engine_image):
    orchestrator = start(engine_image, AUTOSCALE_INTERVAL_S="2")
    try:
        with orchestrator.client() as client:
            before = pids(orchestrator)
            assert running_engines(client) == []
            saved = time.monotonic()
            response = client.patch("/settings", json={"min_replicas": 2})
            assert response.status_code == 200, response.text
            wait_for(lambda: len(running_engines(client)) == 2, timeout=60, interval=0.1)
            seconds = time.monotonic() - saved
            print(f"\nmin_replicas 0 -> 2: two engines running {seconds:.1f} s after the PATCH")
            assert pids(orchestrator) == before
            assert len(fleet.containers.list(
                filters={"label": orchestrator.env["CONTAINER_LABEL"]})) == 2
            # Nor is the target overshot by the passes that follow.
            entry = next(e for e in client.get("/settings").json() if e["name"] == "min_replicas")
            assert (entry["value"], entry["source"]) == (2, "saved")
    finally:
        orchestrator.stop()


def last_reconcile(client) -> float | None:
    """When the reconcile job last succeeded (wall clock), from /metrics."""
    for line in client.get("/metrics").text.splitlines():
        if line.startswith('orch_job_seconds_since_last_success{job="reconcile"}'):
            return time.time() - float(line.split()[-1])
    return None


def test_a_saved_schedule_interval_applies_at_the_next_scheduler_tick(fleet, engine_image):
    """Reconcile once an hour per the environment; saved AUTOSCALE_INTERVAL_S=2 re-writes the
    schedule, and reconcile runs from the worker's next scheduler tick on (every 5 s)."""
    orchestrator = start(engine_image, AUTOSCALE_INTERVAL_S="3600")
    try:
        with orchestrator.client() as client:
            before = pids(orchestrator)
            saved = time.time()
            assert client.patch("/settings", json={"autoscale_interval_s": 2}).status_code == 200
            first = wait_for(lambda: (at := last_reconcile(client)) and at > saved and at,
                             timeout=20, interval=0.1)
            second = wait_for(lambda: (at := last_reconcile(client)) and at > first + 1 and at,
                              timeout=20, interval=0.1)
            print(f"\nautoscale_interval_s 3600 -> 2: reconcile ran {first - saved:.1f} s after "
                  f"the PATCH, then again {second - first:.1f} s later")
            assert first - saved < 7 and second - first < 7
            assert pids(orchestrator) == before
    finally:
        orchestrator.stop()
