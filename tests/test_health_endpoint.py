"""/health: 200 when database, Docker, worker and watcher heartbeats (and the VPN, when enabled)
are up; 503 naming what is down. Open like a load balancer needs it."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from core.models import JobRun
from engines import docker_gateway
from vpn.models import VpnState

pytestmark = [pytest.mark.docker, pytest.mark.django_db]


def health():
    response = Client().get("/health")
    return response.status_code, response.json()


def beat(job: str, seconds_ago: float = 1) -> None:
    JobRun.record(job, timezone.now() - timedelta(seconds=seconds_ago))


@pytest.fixture
def heartbeats():
    beat("reconcile")
    beat("collector")


def test_all_up(heartbeats, docker_client):
    assert health() == (200, {"status": "ok", "checks": {
        "database": "ok", "docker": "ok", "worker": "ok", "watcher": "ok", "provisioning": "ok"}})


def test_jobs_that_never_ran_mean_worker_and_watcher_down():
    status, body = health()
    assert status == 503 and body["status"] == "degraded"
    assert body["checks"]["worker"] == "down: job 'reconcile' has not run yet"
    assert body["checks"]["watcher"] == "down: job 'collector' has not run yet"


def test_a_failing_job_still_proves_its_process_alive(docker_client):
    JobRun.record("reconcile", timezone.now(), error="DockerUnavailable: gone")
    beat("collector")
    assert health()[0] == 200


def test_a_stale_heartbeat_is_down(heartbeats, orch):
    orch(AUTOSCALE_INTERVAL_S=30)
    beat("reconcile", seconds_ago=600)
    status, body = health()
    assert status == 503
    assert body["checks"]["worker"] == "down: job 'reconcile' last ran 600 s ago"
    assert body["checks"]["watcher"] == "ok"


def test_docker_down(heartbeats, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///tmp/nope.sock")
    monkeypatch.setattr(docker_gateway, "_client", None)
    status, body = health()
    assert status == 503
    assert body["checks"]["docker"] == "down: unreachable"
    assert body["checks"]["database"] == "ok"


def test_vpn_is_checked_only_when_enabled(heartbeats, orch, docker_client):
    orch(GLUETUN_CONTAINER_NAME="gluetun")
    assert health()[1]["checks"]["vpn"] == (
        "down: the VPN monitor has not checked Gluetun yet; retry in a few seconds")
    state = VpnState.current()
    state.container_status, state.health, state.last_check = "running", "healthy", timezone.now()
    state.container_id = "c0ffee"
    state.save()
    assert health() == (200, {"status": "ok", "checks": {
        "database": "ok", "docker": "ok", "worker": "ok", "watcher": "ok", "vpn": "ok",
        "provisioning": "ok"}})
    state.auth_error = True
    state.save()
    refused_key = "the Gluetun control server refused our API key (GLUETUN_API_KEY)"
    assert health() == (503, {"status": "degraded", "checks": {
        "database": "ok", "docker": "ok", "worker": "ok", "watcher": "ok",
        "vpn": f"down: {refused_key}",
        "provisioning": f"down: vpn_disconnected: the VPN is not connected: {refused_key}"}})
    state.auth_error, state.container_status, state.health = False, "exited", "unhealthy"
    state.save()
    assert health()[1]["checks"]["vpn"] == "down: container exited, health unhealthy"
