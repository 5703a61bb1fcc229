"""The circuit breaker on engine starts: PROVISION_FAILURE_THRESHOLD failed starts in a row open
it, provisioning then answers 503 `circuit_breaker` without asking Docker, after the cool-down one
trial start goes through (half-open), a start that works closes it, and an operator can close it
by hand."""

from datetime import timedelta

import pytest
from django.utils import timezone

from engines import health, jobs
from engines.models import Engine, Fleet
from tests.support import acexy
from tests.support.events import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.django_db]


def provision(api, **body):
    return api.post("/provision/acestream", {"labels": {}, "env": {}, **body})


@pytest.fixture
def broken_network(orch, fleet):
    """Every start fails in Docker: the network engines should join does not exist."""
    orch(DOCKER_NETWORK="orch-test-no-such-network", PROVISION_FAILURE_THRESHOLD=5)


def breaker_detail(response):
    assert response.status_code == 503, response.content
    detail = acexy.decode(response.json()["detail"], acexy.PROVISION_ERROR)
    assert detail["code"] == "circuit_breaker", detail
    return detail


def test_five_failed_starts_open_it_and_a_reset_closes_it(api, broken_network, orch, fleet,
                                                           settings):
    for _ in range(5):
        assert provision(api).status_code == 502
    detail = breaker_detail(provision(api))
    assert detail["can_retry"] is False and detail["should_wait"] is True
    assert 295 <= detail["recovery_eta_seconds"] <= 300
    assert "5 engine starts failed in a row" in detail["message"]
    assert not Engine.objects.exists()
    assert not fleet.containers.list(all=True, filters={"label": settings.ORCH.CONTAINER_LABEL})
    health = api.get("/health/status").json()["circuit_breakers"]["general"]
    assert (health["state"], health["failure_count"], health["failure_threshold"]) == ("open", 5, 5)

    orch(DOCKER_NETWORK=None)
    breaker_detail(provision(api))  # fixing the cause does not close it by itself before the cool-down
    reset = api.post("/health/circuit-breaker/reset")
    assert reset.json() == {"message": "Circuit breaker reset successfully",
                            "circuit_breaker_state": "closed"}
    assert provision(api).status_code == 200


def test_half_open_lets_one_trial_through(api, broken_network, orch):
    for _ in range(5):
        provision(api)
    Fleet.objects.update(breaker_opened_at=timezone.now() - timedelta(seconds=301))
    detail = api.get("/orchestrator/status").json()["provisioning"]
    assert detail["circuit_breaker_state"] == "half_open"
    assert detail["blocked_reason_details"]["can_retry"] is True

    assert provision(api).status_code == 502, "the trial goes to Docker, and fails"
    assert Fleet.stored().breaker_state() == "open", "a failed trial opens it again at once"

    Fleet.objects.update(breaker_opened_at=timezone.now() - timedelta(seconds=301))
    orch(DOCKER_NETWORK=None)
    trial = provision(api)
    assert trial.status_code == 200
    breaker_detail(provision(api))  # one trial at a time
    engine = Engine.objects.get(container_id=trial.json()["container_id"])
    assert jobs.check_until_ready(engine.pk, first_start=True) == "healthy"
    assert Fleet.stored().breaker_state() == "closed"
    assert Fleet.stored().start_failures == 0
    assert provision(api).status_code == 200


def test_an_engine_that_never_answers_is_a_failed_start(api, orch, fleet):
    orch(STARTUP_TIMEOUT_S=1)
    started = provision(api, env={"SIM_FAULT": "hang"})
    assert started.status_code == 200
    engine = Engine.objects.get(container_id=started.json()["container_id"])
    # Until the simulator listens, Docker's port proxy closes connections instead of letting them
    # hang; under load that can outlast the 1 s, so the check starts once the engine is up.
    wait_for(lambda: health.probe(engine.host, engine.port, timeout=0.5) == health.TIMED_OUT, 60)
    assert jobs.check_until_ready(engine.pk, first_start=True) == health.TIMED_OUT
    fleet_state = Fleet.stored()
    assert fleet_state.start_failures == 1
    assert "did not answer get_status within 1 s" in fleet_state.last_start_failure
