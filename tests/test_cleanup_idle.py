"""AUTO_DELETE: idle engines go after their grace period (clock in the database), never-used ones
after IDLE_TTL_S, never one with a started stream, and MIN_REPLICAS always stay."""

from datetime import timedelta

import pytest
from django.utils import timezone

from engines.cleanup import cleanup_pass
from engines.models import Engine
from tests.support.stream_events import fake_started, provision

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def used_then_idle(api, idle_for_s: float) -> Engine:
    """An engine that served a stream which ended `idle_for_s` seconds ago."""
    port = provision(api)["host_http_port"]
    stream_id = api.post("/events/stream_started", fake_started(port, key=f"k{port}")).json()["id"]
    api.post("/events/stream_ended", {"stream_id": stream_id})
    engine = Engine.objects.get(host_http_port=port)
    assert engine.idle_since is not None
    Engine.objects.filter(pk=engine.pk).update(
        idle_since=timezone.now() - timedelta(seconds=idle_for_s))
    return engine


def container_exists(fleet, container_id) -> bool:
    return bool(fleet.containers.list(all=True, filters={"id": container_id}))


def test_idle_engine_goes_once_the_grace_period_in_the_database_ran_out(api, fleet, orch):
    orch(ENGINE_GRACE_PERIOD_S=30, MIN_REPLICAS=0)
    recent = used_then_idle(api, idle_for_s=20)
    expired = used_then_idle(api, idle_for_s=31)

    assert api.post("/gc").json() == {"status": "ok"}

    assert list(Engine.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not container_exists(fleet, expired.container_id)
    assert container_exists(fleet, recent.container_id)


def test_engine_with_a_started_stream_is_never_removed(api, fleet, orch):
    orch(ENGINE_GRACE_PERIOD_S=0, IDLE_TTL_S=0, MIN_REPLICAS=0)
    port = provision(api)["host_http_port"]
    api.post("/events/stream_started", fake_started(port))
    long_ago = timezone.now() - timedelta(days=1)
    Engine.objects.update(first_seen=long_ago, last_stream_usage=long_ago, idle_since=long_ago)

    assert cleanup_pass() == []
    assert Engine.objects.count() == 1


def test_min_replicas_stay_and_the_longest_idle_goes_first(api, fleet, orch):
    orch(ENGINE_GRACE_PERIOD_S=10, MIN_REPLICAS=2)
    engines = [used_then_idle(api, idle_for_s=seconds) for seconds in (100, 300, 200)]

    assert cleanup_pass() == [engines[1].container_name]
    assert cleanup_pass() == []
    assert Engine.objects.count() == 2


def test_never_used_engine_waits_for_idle_ttl_not_the_grace_period(api, fleet, orch):
    orch(ENGINE_GRACE_PERIOD_S=0, IDLE_TTL_S=600, MIN_REPLICAS=0)
    engine = provision(api)
    assert cleanup_pass() == []

    Engine.objects.update(first_seen=timezone.now() - timedelta(seconds=601))
    assert cleanup_pass() == [engine["container_name"]]


def test_nothing_goes_without_auto_delete(api, fleet, orch):
    orch(ENGINE_GRACE_PERIOD_S=0, MIN_REPLICAS=0, AUTO_DELETE=False)
    used_then_idle(api, idle_for_s=3600)
    assert cleanup_pass() == []
    assert Engine.objects.count() == 1
