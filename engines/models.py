from datetime import datetime, timedelta

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from core.config import conf

from . import hooks


def idle_seconds(idle_from: datetime, now: datetime) -> float:
    return round((now - idle_from).total_seconds(), 1)


class Health(models.TextChoices):
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    UNKNOWN = "unknown"


class State(models.TextChoices):
    STARTING = "starting"  # reserved in the database, container not created yet
    RUNNING = "running"
    EXITED = "exited"  # Docker reported it dead; it may come back through its restart policy


class EngineQuerySet(models.QuerySet):
    def listed(self):
        """Engines a proxy may see: created in Docker (or reported by a proxy, for external ones)."""
        return self.exclude(state=State.STARTING).exclude(container_id=None)

    def managed(self):
        return self.filter(managed=True)

    def running(self):
        return self.filter(state=State.RUNNING)

    def idle(self):
        """Engines without a started stream (the streams app counts them, engines.hooks),
        longest idle first."""
        return self.alias(started_streams=hooks.started_stream_count()).filter(
            started_streams=0).order_by("last_stream_usage", "first_seen")

    def by_ref(self, ref: str):
        """An engine as operators and proxies name it: by container id or container name."""
        return self.filter(models.Q(container_id=ref) | models.Q(container_name=ref))

    def behind_vpn(self):
        """Managed engines inside another container's network namespace (Gluetun's)."""
        return self.managed().exclude(network_parent_id="")


class Engine(models.Model):
    container_id = models.CharField(max_length=128, unique=True, null=True, blank=True)
    container_name = models.CharField(max_length=128, unique=True)
    image = models.CharField(max_length=512, blank=True, default="")
    host = models.CharField(max_length=255)
    host_http_port = models.PositiveIntegerField(null=True, blank=True)
    host_https_port = models.PositiveIntegerField(null=True, blank=True)
    container_http_port = models.PositiveIntegerField(null=True, blank=True)
    container_https_port = models.PositiveIntegerField(null=True, blank=True)
    p2p_port = models.PositiveIntegerField(
        null=True, blank=True, help_text="The VPN's forwarded port, when this engine holds it."
    )
    network_parent_id = models.CharField(
        max_length=128, blank=True, default="",
        help_text="Id of the container whose network namespace this engine joined (Gluetun).",
    )
    labels = models.JSONField(default=dict, blank=True)
    managed = models.BooleanField(default=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.STARTING)
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    health_status = models.CharField(max_length=16, choices=Health.choices, default=Health.UNKNOWN)
    last_health_check = models.DateTimeField(null=True, blank=True)
    last_health_error = models.CharField(max_length=500, blank=True, default="")
    health_failures = models.PositiveIntegerField(default=0)
    last_stream_usage = models.DateTimeField(null=True, blank=True)
    idle_since = models.DateTimeField(
        null=True, blank=True,
        help_text="Since when the engine has had no started stream: the cleanup grace clock.",
    )

    objects = EngineQuerySet.as_manager()

    class Meta:
        ordering = ["container_name"]
        indexes = [models.Index(fields=["managed", "state"]), models.Index(fields=["host_http_port"])]

    def __str__(self):
        return self.container_name

    @property
    def port(self) -> int | None:
        return self.host_http_port

    @property
    def forwarded(self) -> bool:
        return self.p2p_port is not None

    def idle_from(self) -> datetime:
        """Since when the engine has had no started stream (its start, if it never had one)."""
        return self.idle_since or self.first_seen

    def idle_deadline(self) -> datetime:
        """When AUTO_DELETE may remove it: ENGINE_GRACE_PERIOD_S after its last stream ended, or,
        never used, IDLE_TTL_S after it started (acexy plays only 10 s after provisioning)."""
        cfg = conf()
        if self.last_stream_usage is None:
            return self.first_seen + timedelta(seconds=cfg.IDLE_TTL_S)
        return (self.idle_since or self.last_stream_usage) + timedelta(
            seconds=cfg.ENGINE_GRACE_PERIOD_S)

    def to_state(self, stream_ids: list[str], now: datetime) -> dict:
        """The engine as GET /engines shows it (SPEC's EngineState and our additions), given the
        ids of its started streams."""
        return {
            "container_id": self.container_id,
            "container_name": self.container_name,
            "host": self.host,
            "port": self.port,
            "labels": self.labels,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "streams": stream_ids,
            "health_status": self.health_status,
            "last_health_check": self.last_health_check,
            "last_stream_usage": self.last_stream_usage,
            "forwarded": self.forwarded,
            "active_streams": len(stream_ids),
            "idle_seconds": 0.0 if stream_ids else idle_seconds(self.idle_from(), now),
            "last_health_error": self.last_health_error,
            "managed": self.managed,
            "state": self.state,
            "image": self.image,
            "container_http_port": self.container_http_port,
            "container_https_port": self.container_https_port,
            "host_https_port": self.host_https_port,
            "p2p_port": self.p2p_port,
        }


class PortReservation(models.Model):
    """One row per port handed out. The unique port column is what makes concurrent provisions
    safe: two transactions can never both hold the same port."""

    class Purpose(models.TextChoices):
        HOST_HTTP = "host_http"
        CONTAINER_HTTP = "container_http"  # a CONF --http-port that differs from the host port
        CONTAINER_HTTPS = "container_https"
        BLOCKED = "blocked"  # Docker said the host already uses it; skipped until blocked_until

    port = models.PositiveIntegerField(unique=True)
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    engine = models.ForeignKey(
        Engine, null=True, blank=True, on_delete=models.CASCADE, related_name="ports"
    )
    blocked_until = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.port} ({self.purpose})"


class Fleet(models.Model):
    """The one row that stands for the whole fleet.

    Every engine reservation locks it (`locked()`, SELECT ... FOR UPDATE), so names, ports and the
    replica cap hold with several processes on PostgreSQL exactly as SQLite's single write lock
    makes them hold; and it keeps what may block provisioning (engines.gate): whether Docker
    answers, whether the engine image could be had, and the circuit breaker on engine starts.
    """

    PK = 1

    class Breaker(models.TextChoices):
        CLOSED = "closed"
        OPEN = "open"
        HALF_OPEN = "half_open"

    docker_reachable = models.BooleanField(default=True)
    docker_error = models.CharField(max_length=500, blank=True, default="")
    docker_checked_at = models.DateTimeField(null=True, blank=True)
    image = models.CharField(max_length=512, blank=True, default="",
                             help_text="The engine image the image fields are about.")
    image_missing = models.BooleanField(default=False)
    image_error = models.CharField(max_length=500, blank=True, default="")
    image_pull_failures = models.PositiveIntegerField(default=0)
    next_pull_at = models.DateTimeField(null=True, blank=True)
    start_failures = models.PositiveIntegerField(
        default=0, help_text="Engine starts that failed in a row.")
    last_start_failure_at = models.DateTimeField(null=True, blank=True)
    last_start_failure = models.CharField(max_length=500, blank=True, default="")
    last_start_success_at = models.DateTimeField(null=True, blank=True)
    breaker_opened_at = models.DateTimeField(null=True, blank=True)
    breaker_trial_at = models.DateTimeField(
        null=True, blank=True, help_text="When the half-open breaker let its one trial start go.")

    class Meta:
        verbose_name = "fleet state"
        verbose_name_plural = "fleet state"

    def __str__(self):
        return "fleet"

    @classmethod
    def stored(cls) -> "Fleet":
        """The row as last written, or an unsaved blank (nothing known yet): for readers."""
        return cls.objects.filter(pk=cls.PK).first() or cls()

    @classmethod
    def ensure(cls) -> None:
        """The row exists (a flushed test database, a race with another process creating it)."""
        if not cls.objects.filter(pk=cls.PK).exists():
            try:
                with transaction.atomic():
                    cls.objects.create(pk=cls.PK)
            except IntegrityError:
                pass  # created by another process meanwhile

    @classmethod
    def locked(cls) -> "Fleet":
        """The row, locked until the surrounding transaction ends."""
        cls.ensure()
        return cls.objects.select_for_update().get(pk=cls.PK)

    def breaker_state(self, now=None) -> str:
        if self.breaker_opened_at is None:
            return self.Breaker.CLOSED
        cooldown = timedelta(seconds=conf().PROVISION_COOLDOWN_S)
        if (now or timezone.now()) - self.breaker_opened_at < cooldown:
            return self.Breaker.OPEN
        return self.Breaker.HALF_OPEN
