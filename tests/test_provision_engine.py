import pytest

from engines.models import Engine, PortReservation

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def test_provision_starts_a_labelled_engine_answering_on_its_host_port(api, fleet, settings):
    response = api.post("/provision/acestream", {"labels": {}, "env": {}})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["host_http_port"] == body["container_http_port"]
    container = fleet.containers.get(body["container_id"])
    assert container.status == "running"
    assert container.name == body["container_name"]
    assert container.name.startswith(settings.ORCH.ENGINE_NAME_PREFIX + "-")
    labels = container.labels
    assert labels[settings.ORCH.label_key] == settings.ORCH.label_value
    assert labels["host.http_port"] == str(body["host_http_port"])
    assert labels["acestream.https_port"] == str(body["container_https_port"])
    env = dict(item.split("=", 1) for item in container.attrs["Config"]["Env"])
    assert env["CONF"] == (f"--http-port={body['container_http_port']}\n"
                           f"--https-port={body['container_https_port']}\n--bind-all")
    assert env["BIND_ALL"] == "true"
    assert container.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"

    engines = api.get("/engines").json()
    assert [e["container_id"] for e in engines] == [body["container_id"]]
    assert engines[0]["port"] == body["host_http_port"]
    assert engines[0]["first_seen"].endswith(("Z", "+00:00"))


def test_wait_ready_answers_once_get_status_works(api, fleet):
    response = api.post("/provision/acestream", {"wait_ready": True})
    assert response.status_code == 200, response.content
    engine = api.get(f"/engines/{response.json()['container_id']}").json()["engine"]
    assert engine["health_status"] == "healthy"


def test_delete_removes_container_and_frees_ports(api, fleet):
    body = api.post("/provision/acestream", {}).json()
    assert PortReservation.objects.filter(engine__container_id=body["container_id"]).exists()
    response = api.delete(f"/containers/{body['container_id']}")
    assert response.status_code == 200
    assert response.json() == {"deleted": body["container_id"]}
    assert not fleet.containers.list(all=True, filters={"id": body["container_id"]})
    assert not Engine.objects.exists()
    assert not PortReservation.objects.exists()
    assert api.get(f"/engines/{body['container_id']}").status_code == 404
