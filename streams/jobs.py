"""Scheduled upkeep of stream data (django-q2 runs `prune` hourly, see orchestrator_site/schedules.py)."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from core.config import conf
from core.loops import run_recorded

from .models import StatSnapshot, Stream, StreamStatus

# Streams removed per transaction, so pruning never holds the write lock for long.
PRUNE_BATCH = 200


def prune() -> int:
    return run_recorded("prune-stats", prune_ended_streams)


def prune_ended_streams() -> int:
    """Retention: a stream that ended more than STATS_RETENTION_S ago (default 86400 s, one day) is
    deleted together with its snapshots. Until then an operator can still read an ended stream and
    its history (at most STATS_HISTORY_MAX snapshots, as for started streams). Started streams are
    never pruned; their history is bounded by the collector. Returns the number of streams deleted."""
    cutoff = timezone.now() - timedelta(seconds=conf().STATS_RETENTION_S)
    expired = Stream.objects.filter(status=StreamStatus.ENDED, ended_at__lt=cutoff)
    deleted = 0
    while batch := list(expired.values_list("pk", flat=True)[:PRUNE_BATCH]):
        with transaction.atomic():
            # Snapshots first, in one statement: a cascade from Stream would load each one.
            StatSnapshot.objects.filter(stream_id__in=batch).delete()
            deleted += Stream.objects.filter(pk__in=batch).delete()[1].get("streams.Stream", 0)
    return deleted
