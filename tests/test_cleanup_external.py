from datetime import timedelta

import pytest
from django.utils import timezone

from engines import cleanup
from engines.models import Engine
from tests.support.stream_events import fake_started

pytestmark = pytest.mark.django_db


def _external_with_stream(api, port, key):
    assert api.post("/events/stream_started", fake_started(port, key=key)).status_code == 200
    return Engine.objects.get(managed=False, host_http_port=port)


def test_idle_external_engines_are_forgotten_after_idle_ttl(api, orch):
    orch(IDLE_TTL_S=60, AUTO_DELETE=False)
    idle = _external_with_stream(api, 7001, "a")
    busy = _external_with_stream(api, 7002, "b")
    api.post("/events/stream_ended", {"stream_id": "a|s1"})
    Engine.objects.filter(pk__in=[idle.pk, busy.pk]).update(
        idle_since=timezone.now() - timedelta(seconds=61))

    assert cleanup.cleanup_pass() == [idle.container_name]
    assert list(Engine.objects.values_list("pk", flat=True)) == [busy.pk]
    streams = api.get("/streams?status=ended").json()
    assert [s["id"] for s in streams] == ["a|s1"]  # the history stays


def test_recently_idle_external_engines_stay(api, orch):
    orch(IDLE_TTL_S=60)
    engine = _external_with_stream(api, 7003, "c")
    api.post("/events/stream_ended", {"stream_id": "c|s1"})
    assert cleanup.cleanup_pass() == []
    assert Engine.objects.filter(pk=engine.pk).exists()
