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
    ("post", "/provision/acestream"),
    ("get", "/containers/abc"),
    ("get", "/by-label?key=a&value=b"),
    ("post", "/scale/1"),
])
def test_docker_work_answers_503_while_docker_is_down(api, docker_down, method, path):
    response = getattr(api, method)(path)
    assert response.status_code == 503
    assert response.json()["detail"].startswith("Docker unavailable")


def test_database_reads_keep_working_while_docker_is_down(api, docker_down):
    assert api.get("/engines").status_code == 200
