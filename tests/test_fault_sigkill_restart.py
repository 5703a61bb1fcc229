"""Both orchestrator processes killed with SIGKILL while engines run and a stream plays, then
started again on the same database: nothing is lost, duplicated or stopped."""

import pytest

from tests.support.events import wait_for
from tests.support.live import Orchestrator
from tests.support.stream_events import acexy_started, play

pytestmark = [pytest.mark.docker, pytest.mark.live, pytest.mark.slow]


def _started_at(fleet, container_id):
    return fleet.containers.get(container_id).attrs["State"]["StartedAt"]


def test_sigkill_of_web_and_worker_loses_nothing(fleet, engine_image):
    env = {"TARGET_IMAGE": engine_image, "MIN_REPLICAS": "2", "COLLECT_INTERVAL_S": "1",
           "ENGINE_GRACE_PERIOD_S": "600", "IDLE_TTL_S": "600"}
    first = Orchestrator(env=env).start()
    try:
        with first.client() as client:
            # The engines MIN_REPLICAS asks for, started by reconcile (engines provisioned here
            # as well would race its first pass, and the fleet would rightly hold four).
            playing, idle = wait_for(lambda: (listed := client.get("/engines").json()) and len(
                listed) == 2 and all(e["health_status"] == "healthy" for e in listed) and listed,
                timeout=60, interval=0.2)
            session = play(playing["port"], "fault-key")
            stream = client.post("/events/stream_started", json=acexy_started(
                session, playing["port"], "fault-key")).json()
            ended = play(idle["port"], "ended-key")
            other = client.post("/events/stream_started", json=acexy_started(
                ended, idle["port"], "ended-key")).json()
            client.post("/events/stream_ended", json={"stream_id": other["id"]})
            stats_url = f"/streams/{stream['id']}/stats"
            wait_for(lambda: len(client.get(stats_url).json()) >= 2, timeout=20)
            history_before = len(client.get(stats_url).json())
            before = {e["container_id"]: e for e in client.get("/engines").json()}
        started_before = {cid: _started_at(fleet, cid) for cid in before}
    finally:
        first.kill()

    second = Orchestrator(env=env, data_dir=first.data_dir).start()
    try:
        with second.client() as client:
            after = {e["container_id"]: e for e in client.get("/engines").json()}
            assert set(after) == set(before)
            for cid, engine in after.items():
                assert engine["port"] == before[cid]["port"]
                assert engine["container_name"] == before[cid]["container_name"]
                assert _started_at(fleet, cid) == started_before[cid]  # never restarted
            # The grace clock of the idle engine kept running through the crash.
            assert after[idle["container_id"]]["idle_seconds"] >= before[idle["container_id"]][
                "idle_seconds"]
            started = client.get("/streams", params={"status": "started"}).json()
            assert [s["id"] for s in started] == [stream["id"]]
            assert len(client.get(stats_url).json()) >= history_before
            # The restarted worker keeps collecting into the same history.
            wait_for(lambda: len(client.get(stats_url).json()) > history_before + 1, timeout=20)
            # Reconcile after the restart adopts nothing twice and starts no extra engine.
            second.manage("reindex")
            assert len(client.get("/engines").json()) == 2
        assert len(fleet.containers.list(
            filters={"label": second.env["CONTAINER_LABEL"]})) == 2
    finally:
        second.stop()
