"""acexy of December 2025 picks an engine from our /engines and /streams: healthy first, then
fewer started streams, then the forwarded one, then the oldest last use, ties in list order
(ours is sorted by port). Replayed here on our answers, decoded as strictly as Go does."""

from datetime import timedelta

import pytest
from django.utils import timezone

from engines.models import Engine
from tests.support import acexy
from tests.support.stream_events import engine_record, fake_started

pytestmark = pytest.mark.django_db


def as_acexy_sees_it(api) -> tuple[list[dict], dict[str, int]]:
    engines = acexy.decode(api.get("/engines").json(), [acexy.ENGINE])
    started = {}
    for engine in engines:
        streams = api.get("/streams", data={"container_id": engine["container_id"],
                                            "status": "started"}).json()
        started[engine["container_id"]] = len(acexy.decode(streams, [acexy.STREAM]))
    return engines, started


def test_engines_are_sorted_by_port_with_forwarded_always_present(api):
    for name, port in (("b", 20033), ("a", 20035), ("c", 20031)):
        engine_record(port, name=name)
    engines = acexy.decode(api.get("/engines").json(), [acexy.ENGINE])
    assert [engine["port"] for engine in engines] == [20031, 20033, 20035]
    assert all(engine["forwarded"] is False for engine in engines)


def test_the_choice_order(api):
    now = timezone.now()
    old, older = now - timedelta(minutes=5), now - timedelta(minutes=50)
    engine_record(20041, name="unhealthy-empty", health_status="unhealthy")
    engine_record(20042, name="busy", health_status="healthy", last_stream_usage=older)
    engine_record(20043, name="plain", health_status="healthy", last_stream_usage=old)
    engine_record(20044, name="forwarded", health_status="healthy", p2p_port=5914,
                  last_stream_usage=now)
    engine_record(20045, name="plain-older", health_status="healthy", last_stream_usage=older)
    engine_record(20046, name="never-used", health_status="healthy")
    api.post("/events/stream_started", fake_started(20042, key="on-busy"))
    # The event sets `busy`'s last use to now; acexy still ranks it by its one started stream.

    def pick(limit=2):
        engines, started = as_acexy_sees_it(api)
        chosen = acexy.choose_engine(engines, started, max_streams_per_engine=limit)
        return chosen and chosen["container_name"]

    assert pick() == "forwarded", "among healthy engines without streams, the forwarded one"
    Engine.objects.filter(container_name="forwarded").update(p2p_port=None)
    assert pick() == "never-used", "then the oldest use, never used being oldest of all"
    Engine.objects.filter(container_name="never-used").update(health_status="unhealthy")
    assert pick() == "plain-older"
    Engine.objects.filter(container_name="plain-older").update(last_stream_usage=now)
    assert pick() == "plain", "tie broken by last use"
    Engine.objects.filter(container_name__in=["plain", "plain-older", "forwarded"]).update(
        health_status="unhealthy")
    assert pick() == "busy", "a healthy engine with a stream before an unhealthy empty one"
    assert pick(limit=1) == "unhealthy-empty", "a full engine is never chosen"


def test_equal_engines_go_by_list_order(api):
    for name, port in (("z", 20052), ("y", 20051)):
        engine_record(port, name=name, health_status="healthy")
    engines, started = as_acexy_sees_it(api)
    assert acexy.choose_engine(engines, started)["container_name"] == "y"
