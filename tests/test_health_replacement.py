import httpx
import pytest

from engines import jobs
from engines.models import Engine, PortReservation
from streams.models import Stream

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def failing_engine(api) -> dict:
    body = api.post("/provision/acestream", {"wait_ready": True}).json()
    httpx.get(f"http://127.0.0.1:{body['host_http_port']}/sim/fault?mode=fail", timeout=5)
    return body


def test_an_idle_engine_failing_the_threshold_is_replaced(api, fleet, orch):
    orch(MIN_REPLICAS=1, HEALTH_FAILURE_THRESHOLD=3)
    sick = failing_engine(api)
    for _ in range(2):
        assert jobs.health_pass()["replaced"] == []
    assert api.get(f"/engines/{sick['container_id']}").json()["engine"]["health_status"] == "unhealthy"

    assert jobs.health_pass()["replaced"] == [sick["container_name"]]

    assert not fleet.containers.list(all=True, filters={"id": sick["container_id"]})
    assert not PortReservation.objects.filter(engine__container_id=sick["container_id"]).exists()
    engines = api.get("/engines").json()
    # MIN_REPLICAS=1 wants one engine: a fresh one took its place.
    assert len(engines) == 1 and engines[0]["container_id"] != sick["container_id"]
    assert fleet.containers.get(engines[0]["container_id"]).status == "running"


def test_no_successor_when_the_replica_target_does_not_need_one(api, fleet, orch):
    orch(MIN_REPLICAS=0, HEALTH_FAILURE_THRESHOLD=1)
    sick = failing_engine(api)
    assert jobs.health_pass()["replaced"] == [sick["container_name"]]
    assert api.get("/engines").json() == []


def test_an_engine_with_a_started_stream_is_only_marked_unhealthy(api, fleet, orch):
    orch(MIN_REPLICAS=0, HEALTH_FAILURE_THRESHOLD=1)
    sick = failing_engine(api)
    engine = Engine.objects.get(container_id=sick["container_id"])
    Stream.objects.create(id="ch-1", key_type="infohash", key="0a48", engine=engine,
                          container_id=engine.container_id, status="started")
    for _ in range(2):
        assert jobs.health_pass()["replaced"] == []
    state = api.get(f"/engines/{sick['container_id']}").json()["engine"]
    assert state["health_status"] == "unhealthy"
    assert state["last_health_error"] == "get_status answered HTTP 500"
    assert state["streams"] == ["ch-1"]
    assert fleet.containers.get(sick["container_id"]).status == "running"
