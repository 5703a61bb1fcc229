import pytest

from tests.support.live import free_port

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def test_an_image_outside_the_allowlist_is_refused(api, fleet, settings):
    response = api.post("/provision", {"image": "alpine:latest", "ports": {}})
    assert response.status_code == 403
    assert "PROVISION_ALLOWED_IMAGES" in response.json()["detail"]
    generic = f"orchestrator.generic={settings.ORCH.CONTAINER_LABEL}"
    assert not fleet.containers.list(all=True, filters={"label": generic})


def test_an_allowed_image_runs_outside_the_engine_fleet(api, fleet, engine_image, settings):
    response = api.post("/provision", {
        "image": engine_image, "env": {"HTTP_PORT": "40001"}, "labels": {"team": "ops"},
        "ports": {"40001/tcp": free_port()}, "name_prefix": "svc-test",
    })
    assert response.status_code == 200, response.content
    body = response.json()
    container = fleet.containers.get(body["container_id"])
    assert container.name == body["container_name"] and container.name.startswith("svc-test-")
    assert container.labels["team"] == "ops"
    assert settings.ORCH.label_key not in container.labels  # never adopted as an engine
    assert api.get("/engines").json() == []
    view = api.get(f"/containers/{body['container_id']}").json()
    assert view["name"] == body["container_name"]
    assert api.delete(f"/containers/{body['container_id']}").status_code == 200


@pytest.mark.parametrize("body", [
    {"image": "x", "ports": {"abc": 1}},
    {"image": "x", "ports": {"40001/sctp": 1}},
    {"image": "x", "name_prefix": "ünïcode"},
    {"image": "x", "name_prefix": "-leading-dash"},
    {"ports": {}},
])
def test_malformed_generic_requests_are_422(api, orch, body):
    orch(PROVISION_ALLOWED_IMAGES=("x",))
    assert api.post("/provision", body).status_code == 422
