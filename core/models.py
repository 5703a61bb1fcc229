"""Cross-cutting state that every process shares through the database.

These models lived in the site package until the ground floor was split out; their tables keep
the names they had (`db_table`), so moving them needed no data migration."""

import os
import socket
import threading
import time
from contextlib import contextmanager
from datetime import timedelta

from django.db import IntegrityError, connections, models, router, transaction
from django.utils import timezone


def bucket_label(bound: float) -> str:
    """A histogram bucket's `le` label, as Prometheus writes it (`1.0`, not `1`)."""
    return repr(float(bound))


class Counter(models.Model):
    """A monotonic counter kept in the database, so web and worker add to one figure and a
    restart does not reset it (django-prometheus has no multi-process mode)."""

    name = models.CharField(max_length=100)
    labels = models.CharField(max_length=200, blank=True, default="")
    value = models.FloatField(default=0)

    class Meta:
        db_table = "orchestrator_site_counter"
        constraints = [models.UniqueConstraint(fields=["name", "labels"], name="counter_name_labels")]

    def __str__(self):
        return f"{self.name}{{{self.labels}}}={self.value}"

    @classmethod
    def add(cls, name: str, amount: float = 1, **labels: str) -> None:
        key = ",".join(f"{k}={labels[k]}" for k in sorted(labels))
        if not cls._increment(name, key, amount):
            with transaction.atomic():
                counter, created = cls.objects.get_or_create(
                    name=name, labels=key, defaults={"value": amount}
                )
                if not created:
                    cls._increment(name, key, amount)

    @classmethod
    def _increment(cls, name: str, key: str, amount: float) -> bool:
        """The UPDATE the ORM would send, written out: every stream event adds to a counter, and
        the ORM took 0.2 ms to build it, against 0.04 ms for the whole statement written out."""
        connection = connections[router.db_for_write(cls)]
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {quote(cls._meta.db_table)} SET {quote('value')} = {quote('value')} + %s "
                f"WHERE {quote('name')} = %s AND {quote('labels')} = %s", [amount, name, key])
            return cursor.rowcount > 0

    @classmethod
    def observe(cls, histogram: str, value: float, buckets: tuple[float, ...]) -> None:
        """One observation of a histogram kept as counters (cumulative `_bucket`s labelled `le`,
        `_sum`, `_count`, as Prometheus stores them), in one transaction so a scrape never sees
        a bucket without its count."""
        with transaction.atomic():
            for bound in buckets:
                if value <= bound:
                    cls.add(f"{histogram}_bucket", le=bucket_label(bound))
            cls.add(f"{histogram}_sum", value)
            cls.add(f"{histogram}_count")

    @classmethod
    def read(cls, name: str) -> dict[str, float]:
        return dict(cls.objects.filter(name=name).values_list("labels", "value"))


class JobRun(models.Model):
    """When each background job last ran and last succeeded: /health and /metrics read it."""

    name = models.CharField(max_length=64, primary_key=True)
    last_started = models.DateTimeField(null=True)
    last_success = models.DateTimeField(null=True)
    last_duration_s = models.FloatField(null=True)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        db_table = "orchestrator_site_jobrun"

    def __str__(self):
        return self.name

    @classmethod
    def record(cls, name: str, started, error: str = "") -> None:
        now = timezone.now()
        values = {
            "last_started": started,
            "last_duration_s": (now - started).total_seconds(),
            "last_error": error[:2000],
        }
        if not error:
            values["last_success"] = now
        cls.objects.update_or_create(name=name, defaults=values)


def _holder_is_gone(holder: str) -> bool:
    """A holder named `host:pid[:thread]` on this host whose process no longer exists: a crashed
    process's lease is taken over at once instead of after its expiry."""
    host, _, rest = holder.partition(":")
    pid = rest.split(":", 1)[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Lease(models.Model):
    """A named lock with an expiry, so two processes never run the same loop at once and a
    crashed holder is replaced once its lease runs out."""

    name = models.CharField(max_length=64, primary_key=True)
    holder = models.CharField(max_length=128)
    expires_at = models.DateTimeField()

    class Meta:
        db_table = "orchestrator_site_lease"

    def __str__(self):
        return f"{self.name} held by {self.holder}"

    @classmethod
    def acquire(cls, name: str, holder: str, seconds: float) -> bool:
        """Take or renew the lease. The row is locked while it is judged (SELECT ... FOR UPDATE
        on PostgreSQL; SQLite's write transaction does the same), and two processes creating it
        at once meet the primary key: exactly one of them holds it."""
        now = timezone.now()
        expires = now + timedelta(seconds=seconds)
        try:
            with transaction.atomic():
                lease = cls.objects.select_for_update().filter(name=name).first()
                if lease is None:
                    cls.objects.create(name=name, holder=holder, expires_at=expires)
                    return True
                if lease.holder == holder or lease.expires_at < now or _holder_is_gone(lease.holder):
                    cls.objects.filter(name=name).update(holder=holder, expires_at=expires)
                    return True
                return False
        except IntegrityError:
            return False  # created by another process at the same moment

    @classmethod
    def release(cls, name: str, holder: str) -> None:
        cls.objects.filter(name=name, holder=holder).delete()

    @classmethod
    @contextmanager
    def held(cls, name: str, seconds: float, wait: bool = False):
        """Hold the lease for the block, as this thread of this process; yields whether it was
        acquired. With `wait`, waits for another holder to finish (or for its lease to run out)."""
        holder = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        while not (acquired := cls.acquire(name, holder, seconds)) and wait:
            time.sleep(0.2)
        try:
            yield acquired
        finally:
            if acquired:
                cls.release(name, holder)


class Peer(models.Model):
    """An orchestrator on this database, as its worker last announced itself (core.peers).
    `key_proof` is its instance id signed with its SECRET_KEY: another orchestrator that cannot
    verify it signs with a different key, so each refuses the tasks and sessions the other signs."""

    instance = models.CharField(max_length=64, primary_key=True)
    host = models.CharField(max_length=255)
    key_proof = models.TextField()
    seen_at = models.DateTimeField()

    def __str__(self):
        return f"orchestrator {self.instance} on {self.host}"


class Setting(models.Model):
    """A live setting saved by an operator (the admin's Settings page, PATCH /settings,
    `manage.py settings`): it wins over the environment's value and survives restarts. Written
    only through core.live_settings, which validates it and records the change."""

    name = models.CharField(max_length=64, primary_key=True)  # the environment's name
    value = models.JSONField()
    saved_by = models.CharField(max_length=150, blank=True, default="")
    saved_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]
        verbose_name = "setting"
        verbose_name_plural = "settings"

    def __str__(self):
        return f"{self.name.lower()}={self.value!r}"


class SettingChange(models.Model):
    """One change of a live setting: who, when, the value in force before and after, and where
    from. A reset (back to the environment's value) has `reset` set."""

    class Source(models.TextChoices):
        ADMIN = "admin", "admin"
        API = "api", "API"
        COMMAND = "command", "command"
        IMPORT = "import", "import"

    at = models.DateTimeField(db_index=True)
    who = models.CharField(max_length=150, blank=True, default="")
    name = models.CharField(max_length=64)
    old_value = models.JSONField(null=True)
    new_value = models.JSONField(null=True)
    reset = models.BooleanField(default=False)
    source = models.CharField(max_length=16, choices=Source.choices)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "setting change"
        verbose_name_plural = "setting changes"

    def __str__(self):
        return f"{self.name.lower()}: {self.old_value!r} → {self.new_value!r}"


class SettingsRevision(models.Model):
    """One row whose number moves with every change of the saved settings: each process asks it
    (at most once a second, see core.config.conf) and reads the saved values again only when it
    moved. Writers raise it first in their transaction, which also queues concurrent writers
    behind one another (the row lock on PostgreSQL, the write lock on SQLite)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    number = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = "settings revision"

    def __str__(self):
        return f"settings revision {self.number}"
