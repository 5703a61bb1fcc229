import time

import httpx
import pytest

from engines import health, jobs
from engines.models import Engine

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def provision(api) -> dict:
    response = api.post("/provision/acestream", {"wait_ready": True})
    assert response.status_code == 200, response.content
    return response.json()


def set_fault(body: dict, mode: str) -> None:
    port = body["host_http_port"]
    assert httpx.get(f"http://127.0.0.1:{port}/sim/fault?mode={mode}", timeout=5).status_code == 200


def test_hung_failing_and_non_json_engines_show_unhealthy_with_the_reason(api, fleet, settings):
    ok, hung, failing, garbled = (provision(api) for _ in range(4))
    set_fault(hung, "hang")
    set_fault(failing, "fail")
    set_fault(garbled, "nonjson")
    try:
        began = time.monotonic()
        result = health.check_all()
        elapsed = time.monotonic() - began
    finally:
        set_fault(hung, "ok")

    assert result["checked"] == 4
    # Concurrent: the hung engine costs one timeout, not one per engine.
    assert elapsed < settings.ORCH.HEALTH_CHECK_TIMEOUT_S + 1.5
    engines = {e["container_id"]: e for e in api.get("/engines").json()}
    expected = {
        ok["container_id"]: ("healthy", ""),
        hung["container_id"]: ("unhealthy", "get_status timed out"),
        failing["container_id"]: ("unhealthy", "get_status answered HTTP 500"),
        garbled["container_id"]: ("unhealthy", "get_status answered something other than JSON"),
    }
    for container_id, (status, reason) in expected.items():
        engine = engines[container_id]
        assert (engine["health_status"], engine["last_health_error"]) == (status, reason)
        assert engine["last_health_check"].endswith(("Z", "+00:00"))
    detail = api.get(f"/engines/{failing['container_id']}").json()["engine"]
    assert detail["health_status"] == "unhealthy"
    assert detail["last_health_error"] == "get_status answered HTTP 500"
    assert Engine.objects.get(container_id=failing["container_id"]).health_failures == 1


def test_failures_count_in_a_row_and_a_good_answer_clears_them(api, fleet):
    body = provision(api)
    set_fault(body, "fail")
    health.check_all()
    health.check_all()
    assert Engine.objects.get(container_id=body["container_id"]).health_failures == 2
    set_fault(body, "ok")
    health.check_all()
    engine = Engine.objects.get(container_id=body["container_id"])
    assert (engine.health_status, engine.health_failures, engine.last_health_error) == ("healthy", 0, "")


def test_external_engine_that_does_not_answer_is_unhealthy(api, db):
    Engine.objects.create(container_id="external-1", container_name="external-1", host="127.0.0.1",
                          host_http_port=1, managed=False, state="running")
    result = health.check_all()
    assert result["unhealthy"] == ["external-1"], (result, list(Engine.objects.values()))
    engine = api.get("/engines").json()[0]
    assert (engine["health_status"], engine["last_health_error"]) == ("unhealthy", "connection refused")


def test_a_new_engine_leaves_unknown_with_its_first_check(api, fleet):
    body = api.post("/provision/acestream", {}).json()
    assert api.get(f"/engines/{body['container_id']}").json()["engine"]["health_status"] == "unknown"
    # What check_soon queues on the worker.
    assert jobs.check_until_ready(Engine.objects.get(container_id=body["container_id"]).pk) == "healthy"
    assert api.get(f"/engines/{body['container_id']}").json()["engine"]["health_status"] == "healthy"
