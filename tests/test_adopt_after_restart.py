import pytest

from engines import sync
from engines.models import Engine, PortReservation

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def test_a_restart_adopts_running_engines_with_their_ports(api, fleet):
    created = [api.post("/provision/acestream", {}).json() for _ in range(2)]
    first_seen = {e["container_id"]: e["first_seen"] for e in api.get("/engines").json()}
    # A restart with an empty database (the original wiped everything): records are rebuilt.
    Engine.objects.all().delete()
    assert not PortReservation.objects.exists()

    summary = sync.sync_with_docker()

    assert summary["adopted"] == 2
    engines = {e["container_id"]: e for e in api.get("/engines").json()}
    assert set(engines) == {c["container_id"] for c in created}
    for body in created:
        assert engines[body["container_id"]]["port"] == body["host_http_port"]
        # First seen when the container was created, not when it was adopted.
        assert engines[body["container_id"]]["first_seen"] <= first_seen[body["container_id"]]
        assert PortReservation.objects.filter(port=body["host_http_port"]).exists()
    assert all(container.status == "running"
               for container in fleet.containers.list(all=True, filters={"id": created[0]["container_id"]}))


def test_adoption_is_idempotent_and_the_next_provision_avoids_adopted_ports(api, fleet):
    first = api.post("/provision/acestream", {}).json()
    Engine.objects.all().delete()
    sync.sync_with_docker()
    assert sync.sync_with_docker()["adopted"] == 0
    assert Engine.objects.count() == 1
    second = api.post("/provision/acestream", {}).json()
    assert second["host_http_port"] != first["host_http_port"]
    assert second["container_name"] != first["container_name"]


def test_records_of_containers_removed_behind_our_back_are_dropped(api, fleet):
    body = api.post("/provision/acestream", {}).json()
    fleet.containers.get(body["container_id"]).remove(force=True)
    assert sync.sync_with_docker()["forgotten"] == 1
    assert api.get("/engines").json() == []
    assert not PortReservation.objects.exists()


def test_reconcile_keeps_min_replicas(api, fleet, orch):
    orch(MIN_REPLICAS=2)
    assert sync.reconcile()["provisioned"] == 2
    assert sync.reconcile()["provisioned"] == 0
    assert len(api.get("/engines").json()) == 2
