"""The engine image cannot be had (no registry, a typo): provisioning says `image_unavailable`
after the first failed pull and does not pull again before the backoff, reconcile says so within
one pass without a traceback, and an image loaded by hand is used at once."""

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import Counter, JobRun
from engines import jobs
from engines.models import Fleet
from tests.conftest import ApiClient
from tests.support import acexy

pytestmark = [pytest.mark.docker, pytest.mark.django_db]

MISSING = "orch-test/missing-engine:never"


def failed_pulls() -> float:
    return Counter.read("orch_image_pulls_total").get("result=failed", 0)


def blocked_code():
    details = ApiClient(key=None).get("/orchestrator/status").json()["provisioning"][
        "blocked_reason_details"]
    return details and details["code"]


@pytest.fixture
def missing_image(orch, docker_client):
    orch(TARGET_IMAGE=MISSING)


def test_one_pull_then_blocked_without_pulling_again(api, missing_image):
    refused = api.post("/provision/acestream", {"labels": {}, "env": {}})
    assert refused.status_code == 503
    detail = acexy.decode(refused.json()["detail"], acexy.PROVISION_ERROR)
    assert (detail["code"], detail["recovery_eta_seconds"], detail["can_retry"],
            detail["should_wait"]) == ("image_unavailable", None, False, False)
    # Said once, then the image and Docker's own words.
    assert detail["message"].startswith(
        f"the engine image is not available and could not be pulled: {MISSING!r}: ")
    assert failed_pulls() == 1

    assert api.post("/provision/acestream").status_code == 503
    jobs.reconcile()
    assert failed_pulls() == 1, "no second pull before the backoff"
    assert blocked_code() == "image_unavailable"
    health = ApiClient(key=None).get("/health").json()
    assert health["checks"]["provisioning"].startswith("down: image_unavailable")

    first_wait = Fleet.stored().next_pull_at - timezone.now()
    Fleet.objects.update(next_pull_at=timezone.now() - timedelta(seconds=1))
    jobs.reconcile()
    assert failed_pulls() == 2, "the backoff ran out: reconcile pulls again"
    assert Fleet.stored().next_pull_at - timezone.now() > first_wait, "and waits longer next time"


def test_a_fresh_install_says_so_within_one_reconcile_pass(missing_image, orch, caplog):
    orch(MIN_REPLICAS=2)
    with caplog.at_level(logging.INFO):
        summary = jobs.reconcile()
        jobs.reconcile()
    assert summary["blocked"] == "image_unavailable" and summary["provisioned"] == 0
    assert blocked_code() == "image_unavailable"
    assert JobRun.objects.get(name="reconcile").last_error == "", "a blocked pass is not a failure"
    assert not [record for record in caplog.records if record.exc_info], "no traceback"
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and MISSING in warnings[0], warnings


def test_an_image_loaded_by_hand_is_used_at_once(api, missing_image, fleet, engine_image):
    assert api.post("/provision/acestream").status_code == 503
    fleet.images.get(engine_image).tag(MISSING)
    try:
        response = api.post("/provision/acestream", {"labels": {}, "env": {}})
        assert response.status_code == 200, response.content
        assert failed_pulls() == 1, "found by a local look, not a pull"
        assert blocked_code() is None
    finally:
        fleet.images.remove(MISSING)


def test_a_registry_that_refuses_the_connection_is_no_docker_outage(api, orch, docker_client):
    """Docker answers a pull from a closed port with HTTP 500 "connection refused": the image is
    unavailable, and Docker, which answered, is not reported down."""
    orch(TARGET_IMAGE="127.0.0.1:1/orch-test-refused:never")
    refused = api.post("/provision/acestream", {"labels": {}, "env": {}})
    assert refused.status_code == 503
    assert refused.json()["detail"]["code"] == "image_unavailable"
    assert "connection refused" in refused.json()["detail"]["message"]
    assert Fleet.stored().docker_reachable
