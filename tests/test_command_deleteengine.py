import pytest
from django.core.management import CommandError

from engines.models import Engine, PortReservation
from tests.support.commands import command_output

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def delete(*refs) -> str:
    return command_output("deleteengine", *refs)


def test_deletes_by_name_and_by_id_prefix(api, fleet):
    first = api.post("/provision/acestream", {}).json()
    second = api.post("/provision/acestream", {}).json()
    third = api.post("/provision/acestream", {}).json()
    output = delete(first["container_name"], second["container_id"][:12])
    assert output.splitlines() == [
        f"deleted {first['container_name']} ({first['container_id'][:12]})",
        f"deleted {second['container_name']} ({second['container_id'][:12]})",
    ]
    assert list(Engine.objects.values_list("container_id", flat=True)) == [third["container_id"]]
    assert not fleet.containers.list(all=True, filters={"id": first["container_id"]})
    assert not fleet.containers.list(all=True, filters={"id": second["container_id"]})
    assert set(PortReservation.objects.values_list("engine__container_id", flat=True)) == {
        third["container_id"]}


def test_an_unknown_id_among_known_ones_deletes_nothing(api, fleet):
    engine = api.post("/provision/acestream", {}).json()
    with pytest.raises(CommandError, match="no engine 'acestream-999', 'ffff0000': nothing deleted"):
        delete(engine["container_name"], "acestream-999", "ffff0000")
    assert Engine.objects.count() == 1
    assert fleet.containers.get(engine["container_id"]).status == "running"


def test_external_engines_are_forgotten_without_docker(api, fleet):
    Engine.objects.create(container_id="ext-1", container_name="proxy-side-engine",
                          host="10.0.0.9", host_http_port=6878, managed=False, state="running")
    assert delete("proxy-side-engine").strip() == "forgot external engine proxy-side-engine (ext-1)"
    assert not Engine.objects.exists()
