import pytest

from engines import docker_gateway

pytestmark = pytest.mark.django_db


@pytest.fixture
def docker_down(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///tmp/no-docker-here.sock")
    monkeypatch.setattr(docker_gateway, "_client", None)
    yield
    monkeypatch.setattr(docker_gateway, "_client", None)


@pytest.mark.parametrize("method, path", [
    ("get", "/containers/abc"),
    ("get", "/by-label?key=a&value=b"),
])
def test_docker_work_answers_503_while_docker_is_down(api, docker_down, method, path):
    response = getattr(api, method)(path)
    assert response.status_code == 503
    assert response.json()["detail"].startswith("Docker unavailable")


@pytest.mark.parametrize("path", ["/provision/acestream", "/scale/1"])
def test_provisioning_while_docker_is_down_is_blocked_with_the_reason(api, docker_down, path):
    response = api.post(path)
    assert response.status_code == 503
    detail = response.json()["detail"]
    assert detail["error"] == "provisioning_blocked" and detail["code"] == "docker_unreachable"
    assert detail["message"].startswith("Docker does not answer: Docker unavailable")
    assert (detail["recovery_eta_seconds"], detail["can_retry"], detail["should_wait"]) == (
        15, True, True)
    status = api.get("/orchestrator/status").json()
    assert status["provisioning"]["blocked_reason_details"]["code"] == "docker_unreachable"


def test_database_reads_keep_working_while_docker_is_down(api, docker_down):
    assert api.get("/engines").status_code == 200
