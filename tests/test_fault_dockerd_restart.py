"""dockerd stopped and started again under a running orchestrator (web and worker): Docker
work answers 503 while it is down, never 500, reads keep working, and within 15 s after it
returns the fleet is reconciled and the events listener is back."""

import time

import pytest

from tests.support.dockerd import dockerd_control
from tests.support.events import wait_for
from tests.support.live import Orchestrator

pytestmark = [pytest.mark.docker, pytest.mark.alone, pytest.mark.live, pytest.mark.slow]


def test_docker_down_then_back(fleet, engine_image):
    env = {"TARGET_IMAGE": engine_image, "MIN_REPLICAS": "1", "AUTOSCALE_INTERVAL_S": "30"}
    with Orchestrator(env=env) as orchestrator, orchestrator.client() as client:
        engine = client.post("/provision/acestream", json={"wait_ready": True}).json()
        with dockerd_control() as (stop, start):
            stop()
            for method, path in (("post", "/provision/acestream"), ("post", "/scale/2"),
                                 ("get", f"/containers/{engine['container_id']}"),
                                 ("delete", f"/containers/{engine['container_id']}"),
                                 ("get", "/by-label?key=a&value=b")):
                answer = client.request(method, path)
                assert answer.status_code == 503, (method, path, answer.text)
                detail = answer.json()["detail"]
                if path.startswith(("/provision", "/scale")):
                    assert detail["code"] == "docker_unreachable", detail
                else:
                    assert detail.startswith("Docker unavailable")
            status = client.get("/orchestrator/status").json()
            assert status["provisioning"]["blocked_reason_details"]["code"] == "docker_unreachable"
            assert client.get("/engines").status_code == 200
            assert client.get("/metrics").status_code == 200
            assert client.get("/health").status_code == 503
            start()
            back = time.monotonic()

        # The engine came back through its restart policy and is listed, serving, as before.
        def reconciled():
            listed = {e["container_id"]: e for e in client.get("/engines").json()}
            current = listed.get(engine["container_id"])
            return current and current["state"] == "running" and current["port"] == engine[
                "host_http_port"]

        wait_for(reconciled, timeout=15, interval=0.2)
        # The worker's events listener saw Docker answer again: provisioning is open.
        wait_for(lambda: client.get("/orchestrator/status").json()["provisioning"]["can_provision"],
                 timeout=15, interval=0.2)
        # The listener is back: a container removed now disappears from the API at once.
        fleet.containers.get(engine["container_id"]).remove(force=True)
        wait_for(lambda: client.get(f"/engines/{engine['container_id']}").status_code == 404,
                 timeout=max(1.0, 15 - (time.monotonic() - back)), interval=0.1)
        logs = "".join(orchestrator.logs(name) for name in ("web", "worker"))
        assert "Internal Server Error" not in logs
