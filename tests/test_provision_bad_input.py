import pytest

from engines.models import Engine, PortReservation

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def _nothing_left(fleet, settings):
    assert not Engine.objects.exists()
    assert not PortReservation.objects.filter(engine__isnull=False).exists()
    assert not fleet.containers.list(all=True, filters={"label": settings.ORCH.CONTAINER_LABEL})


@pytest.mark.parametrize("body, field", [
    ({"labels": {"a": 1}}, "labels"),
    ({"labels": ["a"]}, "labels"),
    ({"env": {"A": None}}, "env"),
    ({"env": {"BAD NAME": "x"}}, "env"),
    ({"host_port": -1}, "host_port"),
    ({"host_port": 70000}, "host_port"),
    ({"host_port": "abc"}, "host_port"),
    ({"image": "bad image name"}, "image"),
    ({"labels": {f"k{i}": "v" for i in range(101)}}, "labels"),
])
def test_invalid_fields_are_422_with_the_field_path(api, fleet, settings, body, field):
    response = api.post("/provision/acestream", body)
    assert response.status_code == 422, response.content
    assert any(field in error["loc"] for error in response.json()["detail"])
    _nothing_left(fleet, settings)


@pytest.mark.parametrize("raw", ["{bad json", "[]", '"text"', "1", '{"a": ' * 5000])
def test_malformed_bodies_are_4xx_json(api, fleet, settings, raw):
    response = api.post("/provision/acestream", raw)
    assert 400 <= response.status_code < 500, response.content
    assert "detail" in response.json()
    _nothing_left(fleet, settings)


def test_missing_image_is_422_and_leaves_nothing(api, fleet, settings):
    response = api.post("/provision/acestream", {"image": "orch-test/does-not-exist:never"})
    assert response.status_code == 422
    assert "not available" in response.json()["detail"]
    _nothing_left(fleet, settings)


def test_a_host_port_already_held_by_an_engine_is_409(api, fleet, settings):
    first = api.post("/provision/acestream", {}).json()
    response = api.post("/provision/acestream", {"host_port": first["host_http_port"]})
    assert response.status_code == 409
    assert str(first["host_http_port"]) in response.json()["detail"]
    assert Engine.objects.count() == 1


def test_a_host_port_used_outside_docker_is_skipped(api, fleet, settings):
    import socket

    port_range = settings.ORCH.PORT_RANGE_HOST
    blocker = socket.socket()
    # The port may still be in TIME_WAIT from an engine of an earlier test.
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", port_range.start))
    blocker.listen()
    try:
        response = api.post("/provision/acestream", {})
    finally:
        blocker.close()
    assert response.status_code == 200, response.content
    assert response.json()["host_http_port"] != port_range.start
    assert fleet.containers.list(filters={"label": settings.ORCH.CONTAINER_LABEL})


def test_unknown_ids_are_404(api, fleet):
    for method, path in [("get", "/engines/nope"), ("get", "/containers/nope"),
                         ("delete", "/containers/nope")]:
        response = getattr(api, method)(path)
        assert response.status_code == 404, path
        assert "detail" in response.json()


def test_oversized_body_is_413(api):
    response = api.post("/provision/acestream", '{"labels": {"a": "' + "x" * (1024 * 1024) + '"}}')
    assert response.status_code == 413
    assert "exceeds" in response.json()["detail"]


def test_negative_scale_is_422(api):
    assert api.post("/scale/-1").status_code == 422
