from django.db import models
from django.utils import timezone

from engines.models import Engine


class KeyType(models.TextChoices):
    CONTENT_ID = "content_id"
    INFOHASH = "infohash"
    URL = "url"
    MAGNET = "magnet"


class StreamStatus(models.TextChoices):
    STARTED = "started"
    ENDED = "ended"


class StreamQuerySet(models.QuerySet):
    def started(self):
        return self.filter(status=StreamStatus.STARTED)

    def with_latest_snapshot_id(self):
        """Each stream with `latest_snapshot_id`: the pk of its newest snapshot, or None."""
        newest = StatSnapshot.objects.filter(stream=models.OuterRef("pk")).newest_first()
        return self.annotate(latest_snapshot_id=models.Subquery(newest.values("pk")[:1]))


class StatSnapshotQuerySet(models.QuerySet):
    def newest_first(self):
        """Newest first; snapshots with the same timestamp by insertion order, newest first."""
        return self.order_by("-ts", "-pk")


class Stream(models.Model):
    id = models.CharField(max_length=1024, primary_key=True)
    key_type = models.CharField(max_length=16, choices=KeyType.choices)
    key = models.CharField(max_length=1024)
    # Indexed with status below: "the started streams of these engines" is asked by every stream
    # event and every GET /engines, and an engine gathers thousands of ended streams a day.
    engine = models.ForeignKey(Engine, null=True, on_delete=models.SET_NULL, related_name="streams",
                               db_index=False)
    container_id = models.CharField(max_length=128, db_index=True)
    playback_session_id = models.CharField(max_length=256, blank=True, default="")
    stat_url = models.CharField(max_length=2048, blank=True, default="")
    command_url = models.CharField(max_length=2048, blank=True, default="")
    is_live = models.BooleanField(default=True)
    labels = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=StreamStatus.choices, default=StreamStatus.STARTED)
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_reason = models.CharField(max_length=200, blank=True, default="")
    collector_errors = models.PositiveIntegerField(default=0)
    played_by = models.CharField(
        max_length=100, blank=True, default="",
        help_text="Empty for a stream a proxy reported; `orchestrator:<instance>` for one the "
                  "orchestrator plays itself (/ace/getstream).")

    objects = StreamQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["status", "container_id"]),
                   models.Index(fields=["engine", "status"])]

    def __str__(self):
        return self.id


class StatSnapshot(models.Model):
    # No index of its own: the (stream, ts) index below serves every lookup by stream, and each
    # index more is one more B-tree the collector updates for every row it inserts and trims.
    stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="snapshots",
                               db_index=False)
    ts = models.DateTimeField(default=timezone.now)
    peers = models.IntegerField(null=True)
    speed_down = models.IntegerField(null=True)
    speed_up = models.IntegerField(null=True)
    downloaded = models.BigIntegerField(null=True)
    uploaded = models.BigIntegerField(null=True)
    status = models.CharField(max_length=32, blank=True, default="")

    objects = StatSnapshotQuerySet.as_manager()

    class Meta:
        ordering = ["ts"]
        indexes = [models.Index(fields=["stream", "ts"])]

    def __str__(self):
        return f"{self.stream_id} @ {self.ts}"
