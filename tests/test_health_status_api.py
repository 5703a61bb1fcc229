"""GET /health/status (the engines' health and the start breaker) and
POST /health/circuit-breaker/reset."""

import pytest
from django.utils import timezone

from engines.models import Fleet
from tests.conftest import ApiClient
from tests.support.stream_events import engine_record

pytestmark = pytest.mark.django_db


def test_counts_and_breaker(api, orch):
    orch(HEALTH_FAILURE_THRESHOLD=3, MIN_REPLICAS=0)
    engine_record(20011, name="good", health_status="healthy")
    engine_record(20012, name="failing", health_status="unhealthy", health_failures=3)
    engine_record(20013, name="new")
    body = api.get("/health/status").json()
    assert {key: body[key] for key in ("total_engines", "healthy_engines", "unhealthy_engines",
                                       "unknown_engines", "marked_for_replacement",
                                       "minimum_required", "health_check_interval")} == {
        "total_engines": 3, "healthy_engines": 1, "unhealthy_engines": 1, "unknown_engines": 1,
        "marked_for_replacement": 1, "minimum_required": 0, "health_check_interval": 30}
    breaker = body["circuit_breakers"]["general"]
    assert (breaker["state"], breaker["failure_count"], breaker["failure_threshold"],
            breaker["recovery_timeout"]) == ("closed", 0, 5, 300)
    assert body["provisioning_blocked"] is None


def test_reset_needs_the_key_and_closes_the_breaker(api):
    Fleet.ensure()
    Fleet.objects.update(start_failures=7, breaker_opened_at=timezone.now())
    assert ApiClient(key=None).post("/health/circuit-breaker/reset").status_code == 401
    assert api.get("/health/status").json()["circuit_breakers"]["general"]["state"] == "open"
    assert api.post("/health/circuit-breaker/reset?operation_type=general").status_code == 200
    breaker = api.get("/health/status").json()["circuit_breakers"]["general"]
    assert (breaker["state"], breaker["failure_count"]) == ("closed", 0)
    assert api.post("/health/circuit-breaker/reset?operation_type=bogus").status_code == 422
