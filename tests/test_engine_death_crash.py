"""An engine process that crashes (exit 1): Docker's unless-stopped policy restarts the same
container, and the orchestrator keeps it as the same engine."""

import httpx
import pytest

from engines import health
from engines.models import Engine
from streams.models import Stream
from tests.support.events import EVENT_DEADLINE_S, listening, started_stream, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def test_a_crashed_engine_is_marked_at_once_and_comes_back_as_the_same_engine(api, fleet):
    body = api.post("/provision/acestream", {"wait_ready": True}).json()
    before = Engine.objects.get(container_id=body["container_id"])
    stream = started_stream(body["container_id"])
    with listening():
        # The simulator answers, then exits with code 1.
        httpx.get(f"http://127.0.0.1:{body['host_http_port']}/sim/fault?mode=exit", timeout=5)

        # The listener (no health check runs): its stream ended, the reason of the death kept.
        wait_for(lambda: Stream.objects.get(pk=stream.pk).status == "ended", EVENT_DEADLINE_S)
        wait_for(lambda: Engine.objects.get(pk=before.pk).last_health_error
                 == "container died, exit code 1", EVENT_DEADLINE_S)
        # Docker restarts it; the listener sees the start and the record is running again.
        engine = wait_for(lambda: Engine.objects.filter(pk=before.pk, state="running").first(),
                          EVENT_DEADLINE_S)

    assert Stream.objects.get(pk=stream.pk).ended_reason == "engine_died"
    assert engine.container_id == before.container_id
    assert engine.host_http_port == before.host_http_port
    assert engine.health_failures == 1  # a death counts as a failed check
    assert fleet.containers.get(body["container_id"]).attrs["RestartCount"] == 1
    state = api.get(f"/engines/{body['container_id']}").json()["engine"]
    assert state["health_status"] == "unknown"
    assert state["last_health_error"] == "container died, exit code 1"
    assert state["streams"] == []
    assert health.poll_get_status("127.0.0.1", body["host_http_port"], 5) == ""
