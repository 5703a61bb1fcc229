from django.db import models
from django.utils import timezone


class VpnState(models.Model):
    """The one row of what the orchestrator last saw of Gluetun; /vpn/status reads it."""

    container_name = models.CharField(max_length=128, blank=True, default="")
    container_id = models.CharField(max_length=128, blank=True, default="")
    container_status = models.CharField(max_length=32, default="unknown")
    container_started_at = models.DateTimeField(
        null=True, blank=True,
        help_text="When Docker last started Gluetun: engines started before it lost their network.",
    )
    health = models.CharField(max_length=16, default="unknown")
    vpn_status = models.CharField(max_length=64, blank=True, default="")
    public_ip = models.CharField(max_length=64, blank=True, default="")
    forwarded_port = models.PositiveIntegerField(null=True, blank=True)
    auth_error = models.BooleanField(default=False)
    last_error = models.CharField(max_length=500, blank=True, default="")
    last_check = models.DateTimeField(null=True, blank=True)
    last_change = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "VPN state"
        verbose_name_plural = "VPN states"

    def __str__(self):
        return f"{self.container_name or 'vpn'}: {self.container_status}/{self.health}"

    @classmethod
    def current(cls) -> "VpnState":
        """The row, created if missing: for the monitor, which writes it."""
        state, _ = cls.objects.get_or_create(pk=1)
        return state

    @classmethod
    def stored(cls) -> "VpnState":
        """The row as last written, or an unsaved blank before the first check: for readers,
        which never write."""
        return cls.objects.filter(pk=1).first() or cls()

    def why_down(self) -> str:
        """Why the tunnel is not up, in words for an operator."""
        if self.last_check is None:
            return "the VPN monitor has not checked Gluetun yet; retry in a few seconds"
        if self.auth_error:
            return "the Gluetun control server refused our API key (GLUETUN_API_KEY)"
        return self.last_error or f"container {self.container_status}, health {self.health}"

    @property
    def is_up(self) -> bool:
        return (
            self.container_status == "running"
            and self.health == "healthy"
            and not self.auth_error
        )


class VpnTransition(models.Model):
    """History of what changed: up, down, port_changed, public_ip_changed, restarted, recreated,
    auth_error, engines_recreated, engine_replaced."""

    ts = models.DateTimeField(default=timezone.now, db_index=True)
    kind = models.CharField(max_length=32)
    detail = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["-ts"]
        verbose_name = "VPN transition"
        verbose_name_plural = "VPN transitions"

    def __str__(self):
        return f"{self.ts:%Y-%m-%d %H:%M:%S} {self.kind}"
