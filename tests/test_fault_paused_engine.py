"""An engine container paused with `docker pause` stops answering: it turns unhealthy and, with no
stream on it, is replaced to keep MIN_REPLICAS."""

import pytest

from engines import jobs
from tests.support.stream_events import provision

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def test_a_paused_engine_turns_unhealthy_and_is_replaced(api, fleet, orch):
    orch(MIN_REPLICAS=1, HEALTH_CHECK_TIMEOUT_S=1.0, HEALTH_FAILURE_THRESHOLD=2)
    paused = provision(api)
    fleet.containers.get(paused["container_id"]).pause()

    jobs.health_pass()
    engine = api.get(f"/engines/{paused['container_id']}").json()["engine"]
    assert engine["health_status"] == "unhealthy"
    assert "timed out" in engine["last_health_error"]

    result = jobs.health_pass()
    assert result["replaced"] == [paused["container_name"]]
    engines = api.get("/engines").json()
    assert [e["container_id"] for e in engines] != [paused["container_id"]]
    assert len(engines) == 1
    assert not fleet.containers.list(all=True, filters={"id": paused["container_id"]})
