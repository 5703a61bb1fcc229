"""Engines that die for good: removed with `docker rm -f` or `docker kill`ed behind the
orchestrator's back. The events listener forgets them (no health check runs): streams ended, ports freed."""

import pytest

from engines import sync
from engines.models import Engine, PortReservation
from streams.models import Stream
from tests.support.events import EVENT_DEADLINE_S, listening, started_stream, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def forgotten(api, container_id: str) -> bool:
    return (api.get(f"/engines/{container_id}").status_code == 404
            and not PortReservation.objects.filter(engine__container_id=container_id).exists())


def test_an_engine_removed_with_docker_rm_is_forgotten_by_the_listener(api, fleet):
    body = api.post("/provision/acestream", {}).json()
    stream = started_stream(body["container_id"])
    with listening():
        fleet.containers.get(body["container_id"]).remove(force=True)
        wait_for(lambda: forgotten(api, body["container_id"]), timeout=EVENT_DEADLINE_S)
    stream.refresh_from_db()
    assert (stream.status, stream.ended_reason) == ("ended", "engine_died")
    assert api.get("/engines").json() == []
    # Its port is free again: the next engine may take it.
    assert api.post("/provision/acestream", {"host_port": body["host_http_port"]}).status_code == 200


def test_a_killed_engine_is_forgotten_by_the_listener_and_its_container_removed_later(
        api, fleet, monkeypatch):
    body = api.post("/provision/acestream", {}).json()
    other = api.post("/provision/acestream", {}).json()
    stream = started_stream(body["container_id"])
    with listening():
        fleet.containers.get(body["container_id"]).kill()
        wait_for(lambda: forgotten(api, body["container_id"]), timeout=EVENT_DEADLINE_S)
    stream.refresh_from_db()
    assert (stream.status, stream.ended_reason) == ("ended", "engine_died")
    assert [e["container_id"] for e in api.get("/engines").json()] == [other["container_id"]]
    # Docker does not restart a killed container; the dead one is left for the grace period
    # (a dockerd shutdown looks the same and its containers come back), then removed.
    container = fleet.containers.get(body["container_id"])
    assert container.status == "exited"
    assert sync.sync_with_docker()["removed_dead"] == 0
    monkeypatch.setattr(sync, "DEAD_CONTAINER_GRACE_S", 0)
    assert sync.sync_with_docker()["removed_dead"] == 1
    assert not fleet.containers.list(all=True, filters={"id": body["container_id"]})
    assert Engine.objects.filter(container_id=other["container_id"], state="running").exists()


def test_deleting_an_engine_ends_its_streams_as_deleted_even_with_the_listener_running(api, fleet):
    body = api.post("/provision/acestream", {}).json()
    stream = started_stream(body["container_id"])
    with listening():
        assert api.delete(f"/containers/{body['container_id']}").status_code == 200
        wait_for(lambda: not Stream.objects.filter(pk=stream.pk, status="started").exists(),
                 EVENT_DEADLINE_S)
    stream.refresh_from_db()
    assert stream.ended_reason == "engine_deleted"
