"""What the playback owner process tells every process about the contents it plays: the web
processes, the worker and /metrics read these rows, since the hubs themselves live in one
process's memory."""

from django.db import models
from django.utils import timezone


class PlayedContent(models.Model):
    """One content played by the orchestrator right now (a hub), refreshed by its owner every
    couple of seconds and on every change; removed when the hub is over."""

    key = models.CharField(max_length=200, unique=True, help_text="id:<40 hex>, or infohash:…")
    owner = models.CharField(max_length=200, help_text="The process that reads the engine.")
    state = models.CharField(max_length=20, default="starting")
    engine = models.CharField(max_length=128, blank=True, default="")
    stream_id = models.CharField(max_length=1024, blank=True, default="")
    players = models.PositiveIntegerField(default=0)
    bytes_sent = models.BigIntegerField(default=0)
    failovers = models.JSONField(default=dict, blank=True, help_text="Sessions replaced, by reason.")
    cut_off = models.PositiveIntegerField(default=0, help_text="Players cut off for falling behind.")
    since = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["key"]
        verbose_name = "played content"
        verbose_name_plural = "played contents"

    def __str__(self):
        return self.key
