"""GET /orchestrator/status (SPEC "Today's clients"): open without a key, always 200, every field
of the exact JSON type acexy's Go decoder wants, and the same blocking reason provisioning gives."""

import copy

import pytest
from django.utils import timezone

from engines.models import Engine, Fleet
from streams.models import Stream
from tests.conftest import ApiClient
from tests.support import acexy
from tests.support.events import started_stream

pytestmark = [pytest.mark.django_db]


def status(key: str | None = None) -> dict:
    """As acexy asks it: no Authorization header (unless a test gives the key)."""
    response = ApiClient(key=key).get("/orchestrator/status")
    assert response.status_code == 200, response.content
    return acexy.decode(response.json(), acexy.STATUS)


def provision(api):
    return api.post("/provision/acestream", {"labels": {}, "env": {}})


def test_open_without_a_key_and_every_type_exact():
    body = status()
    assert body["status"] == "unavailable"  # no engine runs
    assert body["engines"] == {"total": 0, "running": 0, "healthy": 0, "unhealthy": 0}
    assert body["provisioning"] == {"can_provision": True, "circuit_breaker_state": "closed",
                                    "last_failure": None, "blocked_reason": None,
                                    "blocked_reason_details": None}
    assert body["vpn"] == {"enabled": False, "connected": False, "health": "unknown"}
    assert body["capacity"]["max_replicas"] == 60 and body["capacity"]["min_replicas"] == 0


@pytest.mark.parametrize("section, field, wrong", [
    ("engines", "total", 1.0), ("engines", "total", "1"), ("engines", "total", True),
    ("provisioning", "can_provision", 1), ("provisioning", "last_failure", "2026-12-01T10:00:00"),
])
def test_the_strict_decoder_refuses_what_go_refuses(section, field, wrong):
    body = copy.deepcopy(status())
    body[section][field] = wrong
    with pytest.raises(AssertionError, match=f"{section}.{field}"):
        acexy.decode(body, acexy.STATUS)


def test_an_idle_engine_means_healthy_and_free(api, fleet):
    assert provision(api).status_code == 200
    body = status()
    assert body["status"] == "healthy"
    assert body["engines"]["total"] == body["engines"]["running"] == 1
    assert body["capacity"] == {"total": 1, "used": 0, "available": 1, "max_replicas": 60,
                                "min_replicas": 0}
    assert body["provisioning"]["can_provision"] is True


def test_capacity_counts_the_engines_with_streams(api, fleet):
    engines = [provision(api).json() for _ in range(3)]
    started_stream(engines[0]["container_id"], "on-first")
    started_stream(engines[1]["container_id"], "on-second")
    started_stream(engines[1]["container_id"], "also-on-second")
    ended = started_stream(engines[2]["container_id"], "ended-on-third")
    Stream.objects.filter(pk=ended.pk).update(status="ended")
    body = status()
    assert body["capacity"] == {"total": 3, "used": 2, "available": 1, "max_replicas": 60,
                                "min_replicas": 0}
    assert body["streams"] == {"active": 3, "total": 4}


@pytest.mark.parametrize("auto_delete, eta", [(True, 30), (False, None)])
def test_at_max_replicas_status_and_provision_give_the_same_reason(api, fleet, orch, settings,
                                                                   auto_delete, eta):
    orch(MAX_REPLICAS=1, AUTO_DELETE=auto_delete)
    assert provision(api).status_code == 200
    body = status(key=api.headers["Authorization"].split()[1])
    details = body["provisioning"]["blocked_reason_details"]
    assert body["status"] == "healthy", "a full fleet is not a fault"
    assert body["provisioning"]["can_provision"] is False
    assert body["provisioning"]["blocked_reason"] == "maximum number of engines reached (1)"
    assert (details["code"], details["recovery_eta_seconds"], details["can_retry"],
            details["should_wait"]) == ("max_capacity", eta, False, True)

    refused = provision(api)
    assert refused.status_code == 503
    detail = acexy.decode(refused.json()["detail"], acexy.PROVISION_ERROR)
    assert detail == {"error": "provisioning_blocked", **details}
    assert len(fleet.containers.list(all=True, filters={"label": settings.ORCH.CONTAINER_LABEL})) == 1
    assert Engine.objects.count() == 1


def test_configuration_details_only_for_a_caller_with_the_key(api, fleet, orch):
    orch(MAX_REPLICAS=1)
    provision(api)
    public = status()["provisioning"]["blocked_reason_details"]["message"]
    private = status(key=api.headers["Authorization"].split()[1])[
        "provisioning"]["blocked_reason_details"]["message"]
    assert public == "maximum number of engines reached (1)"
    assert private == "maximum number of engines reached (1): delete or scale down engines first"


def test_an_open_breaker_shows_with_its_last_failure():
    Fleet.ensure()
    now = timezone.now()
    Fleet.objects.filter(pk=Fleet.PK).update(start_failures=5, breaker_opened_at=now,
                                             last_start_failure_at=now, last_start_failure="x")
    body = status()
    assert body["provisioning"]["circuit_breaker_state"] == "open"
    assert body["provisioning"]["last_failure"] is not None
    assert body["provisioning"]["blocked_reason_details"]["code"] == "circuit_breaker"
