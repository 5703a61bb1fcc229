"""The real processes: the worker's first check of a new engine (check_soon), and its loops'
events listener noticing a killed engine, as a proxy sees them through the API."""

import pytest

from tests.support.events import EVENT_DEADLINE_S, wait_for
from tests.support.live import Orchestrator

pytestmark = [pytest.mark.docker, pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def live(fleet, engine_image):
    orchestrator = Orchestrator(env={"TARGET_IMAGE": engine_image, "MIN_REPLICAS": "0"})
    orchestrator.start()
    try:
        wait_for(lambda: "following Docker events" in orchestrator.logs("worker"), timeout=30)
        yield orchestrator
    finally:
        orchestrator.stop()


def test_a_new_engine_is_checked_at_once_and_a_killed_one_vanishes_before_any_health_pass(
        live, fleet):
    # Deadlines well inside HEALTH_CHECK_INTERVAL_S (30 s): only check_soon and the events
    # listener can meet them, not the periodic pass. Their speed is bench/health.py's.
    with live.client() as client:
        body = client.post("/provision/acestream", json={"labels": {}, "env": {}}).json()

        def health_status():
            return client.get(f"/engines/{body['container_id']}").json()["engine"]["health_status"]

        assert wait_for(lambda: health_status() == "healthy", timeout=20)

        fleet.containers.get(body["container_id"]).kill()
        wait_for(lambda: body["container_id"] not in
                 [e["container_id"] for e in client.get("/engines").json()], EVENT_DEADLINE_S)
