"""When an engine goes away its started streams end with the reason, and keep their history."""

import pytest

from engines import lifecycle
from engines.models import Engine
from streams.models import StatSnapshot, Stream
from tests.support.stream_events import acexy_started, engine_record, fake_started, play, provision

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.docker
def test_deleting_the_engine_ends_its_streams(api, fleet):
    engine = provision(api)
    port = engine["host_http_port"]
    stream_id = api.post("/events/stream_started",
                         acexy_started(play(port, "ch-1"), port, "ch-1")).json()["id"]
    StatSnapshot.objects.create(stream_id=stream_id, peers=3)

    assert api.delete(f"/containers/{engine['container_id']}").status_code == 200

    stream = Stream.objects.get(pk=stream_id)
    assert (stream.status, stream.ended_reason) == ("ended", "engine_deleted")
    assert stream.ended_at is not None
    assert stream.container_id == engine["container_id"]
    assert api.get(f"/streams/{stream_id}/stats").json()[0]["peers"] == 3
    assert api.get("/streams?status=started").json() == []


def test_a_dead_engine_ends_only_its_own_streams(api):
    engine_record(20001, name="one")
    engine_record(20002, name="two")
    api.post("/events/stream_started", fake_started(20001, session_id="a"))
    api.post("/events/stream_started", fake_started(20002, session_id="b"))

    lifecycle.forget_engine(Engine.objects.get(container_name="one"), "engine_died")

    assert Stream.objects.get(pk="k1|a").ended_reason == "engine_died"
    assert Stream.objects.get(pk="k1|b").status == "started"
    assert Stream.objects.get(pk="k1|a").engine is None
