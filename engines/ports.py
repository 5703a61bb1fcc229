"""Port allocation. Callers hold the write transaction; the unique port column does the rest."""

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from core.config import PortRange

from .models import Engine, PortReservation

# How long a port the host turned out to use stays skipped before we try it again.
BLOCK_SECONDS = 600


class PortsExhausted(Exception):
    pass


class PortTaken(Exception):
    pass


def _taken() -> set[int]:
    now = timezone.now()
    return set(
        PortReservation.objects.filter(Q(blocked_until__isnull=True) | Q(blocked_until__gt=now))
        .values_list("port", flat=True)
    )


def reserve_free(engine: Engine, port_range: PortRange, purpose: str) -> int:
    taken = _taken()
    for port in port_range:
        if port not in taken:
            return reserve(engine, port, purpose)
    raise PortsExhausted(f"no free port left in {port_range}")


def reserve(engine: Engine, port: int, purpose: str) -> int:
    existing = PortReservation.objects.filter(port=port).first()
    if existing is not None and existing.engine_id == engine.pk:
        return port
    if existing is not None:
        if existing.purpose != PortReservation.Purpose.BLOCKED or (
            existing.blocked_until and existing.blocked_until > timezone.now()
        ):
            raise PortTaken(f"port {port} is already in use by another engine")
        existing.delete()
    PortReservation.objects.create(port=port, purpose=purpose, engine=engine)
    return port


def block(port: int) -> None:
    """Remember that the host already uses this port, so the next allocation skips it."""
    PortReservation.objects.update_or_create(
        port=port,
        defaults={
            "purpose": PortReservation.Purpose.BLOCKED,
            "engine": None,
            "blocked_until": timezone.now() + timedelta(seconds=BLOCK_SECONDS),
        },
    )


def reclaim(engine: Engine, ports: dict[int, str]) -> list[int]:
    """Re-reserve the ports an adopted container already uses; returns those held elsewhere."""
    conflicts = []
    for port, purpose in ports.items():
        try:
            reserve(engine, port, purpose)
        except PortTaken:
            conflicts.append(port)
    return conflicts
