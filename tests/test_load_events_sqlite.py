"""Web and worker (its jobs and loops) writing at once on SQLite (events, stats, health) under a paced event
load: every event answered, none lost or duplicated, and no "database is locked" anywhere."""

import subprocess
import sys
import threading

import pytest

from tests.support.live import MANAGE, ROOT, Orchestrator
from tests.support.load import EventLoad

pytestmark = [pytest.mark.docker, pytest.mark.live, pytest.mark.slow]

RATE = 200  # events a second
SECONDS = 10


def test_paced_events_with_concurrent_stats_and_health_writes(fleet, engine_image):
    env = {"TARGET_IMAGE": engine_image, "COLLECT_INTERVAL_S": "1", "AUTO_DELETE": "false"}
    with Orchestrator(env=env) as orchestrator:
        with orchestrator.client() as client:
            engine = client.post("/provision/acestream", json={"wait_ready": True}).json()
        health_runs = []

        def check_health_repeatedly():
            for _ in range(4):
                health_runs.append(subprocess.run(
                    [sys.executable, MANAGE, "checkhealth"], env=orchestrator.env, cwd=ROOT,
                    capture_output=True, text=True, timeout=120))

        checker = threading.Thread(target=check_health_repeatedly)
        checker.start()
        load = EventLoad(orchestrator.base_url, orchestrator.api_key, engine["host_http_port"],
                         rate=RATE, duration=SECONDS).run()
        checker.join()

        assert load.statuses.count(200) == len(load.statuses) == RATE * SECONDS
        with orchestrator.client() as client:
            ended = client.get("/streams", params={"status": "ended"}).json()
            started = client.get("/streams", params={"status": "started"}).json()
            metrics = client.get("/metrics").text
        ids = [stream["id"] for stream in ended]
        assert sorted(ids) == sorted(load.stream_ids)  # none lost, none duplicated
        assert started == []
        assert f"orch_events_started_total {float(len(ids))}" in metrics
        assert f"orch_events_ended_total {float(len(ids))}" in metrics
        assert all(run.returncode == 0 for run in health_runs), [r.stderr for r in health_runs]
        outputs = [orchestrator.logs(name) for name in ("web", "worker")]
        outputs += [run.stdout + run.stderr for run in health_runs]
        assert not any("database is locked" in text for text in outputs)
