"""Retention: ended streams and their history go STATS_RETENTION_S after they ended."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import JobRun
from streams.jobs import prune
from streams.models import StatSnapshot, Stream
from tests.support.stream_events import engine_record, fake_started

pytestmark = pytest.mark.django_db(transaction=True)


def test_prune_removes_only_streams_ended_before_the_retention(api, orch):
    orch(STATS_RETENTION_S=3600)
    engine_record(20001)
    for session in ("old", "recent", "playing"):
        api.post("/events/stream_started", fake_started(20001, session_id=session))
        StatSnapshot.objects.create(stream_id=f"k1|{session}", peers=1)
    for session in ("old", "recent"):
        api.post("/events/stream_ended", {"stream_id": f"k1|{session}"})
    Stream.objects.filter(pk="k1|old").update(ended_at=timezone.now() - timedelta(seconds=3601))
    Stream.objects.filter(pk="k1|playing").update(started_at=timezone.now() - timedelta(days=9))

    assert prune() == 1

    assert sorted(Stream.objects.values_list("pk", flat=True)) == ["k1|playing", "k1|recent"]
    assert sorted(StatSnapshot.objects.values_list("stream_id", flat=True)) == [
        "k1|playing", "k1|recent"]
    assert JobRun.objects.get(name="prune-stats").last_success is not None
