"""/metrics says why provisioning is blocked (one gauge per SPEC code, 1 for the current one)
and what state the start breaker is in."""

import pytest
from django.utils import timezone

from engines.models import Fleet
from tests.support.stream_events import engine_record

pytestmark = pytest.mark.django_db


def samples(api) -> dict[str, float]:
    found = {}
    for line in api.get("/metrics").content.decode().splitlines():
        if line.startswith(("orch_provisioning_blocked", "orch_provision_circuit_breaker_state",
                            "orch_provision_consecutive_failures", "orch_image_pulls_total")):
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    return found


def test_nothing_blocked(api):
    found = samples(api)
    assert [found[f'orch_provisioning_blocked{{code="{code}"}}'] for code in (
        "docker_unreachable", "image_unavailable", "vpn_disconnected", "circuit_breaker",
        "max_capacity")] == [0, 0, 0, 0, 0]
    assert found['orch_provision_circuit_breaker_state{state="closed"}'] == 1
    assert found['orch_provision_circuit_breaker_state{state="open"}'] == 0
    assert found["orch_provision_consecutive_failures"] == 0
    assert found['orch_image_pulls_total{result="failed"}'] == 0


def test_the_current_reason_is_1(api, orch):
    orch(MAX_REPLICAS=1)
    engine_record(20061)
    assert samples(api)['orch_provisioning_blocked{code="max_capacity"}'] == 1
    Fleet.ensure()
    Fleet.objects.update(start_failures=5, breaker_opened_at=timezone.now())
    found = samples(api)
    assert found['orch_provisioning_blocked{code="circuit_breaker"}'] == 1, "the first match"
    assert found['orch_provisioning_blocked{code="max_capacity"}'] == 0
    assert found['orch_provision_circuit_breaker_state{state="open"}'] == 1
    assert found["orch_provision_consecutive_failures"] == 5
