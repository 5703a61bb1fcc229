"""acexy of December 2025 (7e82040) against the running orchestrator: it reads the status without
a key, plays on an engine with room, provisions when every engine is full, is told why when it
cannot, and ends its streams; everything it decodes has Go's exact types."""

import pytest

from tests.support import acexy
from tests.support.live import Orchestrator

pytestmark = [pytest.mark.docker, pytest.mark.live, pytest.mark.slow]


def test_plays_switches_engines_when_full_and_ends(fleet, engine_image):
    env = {"TARGET_IMAGE": engine_image, "MIN_REPLICAS": "0", "MAX_REPLICAS": "2"}
    with Orchestrator(env=env) as orchestrator:
        proxy = acexy.Proxy(orchestrator.base_url, orchestrator.api_key)
        try:
            first_status = proxy.status()
            assert first_status["status"] == "unavailable"
            assert first_status["provisioning"]["can_provision"] is True

            first = proxy.play("ch-a")
            second = proxy.play("ch-b")  # the first engine is full: a second one is provisioned
            engines, started = proxy.engines()
            assert len(engines) == 2 and sorted(started.values()) == [1, 1]
            status = proxy.status()
            assert status["status"] == "healthy"
            assert status["capacity"] == {"total": 2, "used": 2, "available": 0,
                                          "max_replicas": 2, "min_replicas": 0}
            assert status["provisioning"]["blocked_reason_details"]["code"] == "max_capacity"

            with pytest.raises(acexy.ProvisioningRefused) as refused:
                proxy.play("ch-c")
            assert refused.value.detail["code"] == "max_capacity"

            assert proxy.end(first, "client_disconnected")["updated"] is True
            third = proxy.play("ch-c")  # the freed engine takes it
            engines, started = proxy.engines()
            assert len(engines) == 2 and sorted(started.values()) == [1, 1]
            for stream_id, reason in ((second, "completed"), (third, "eof")):
                assert proxy.end(stream_id, reason)["stream"]["ended_reason"] == reason
            assert proxy.engines()[1] == dict.fromkeys(started, 0)
        finally:
            proxy.close()
