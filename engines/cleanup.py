"""AUTO_DELETE: remove managed engines that have had no stream for a while, keeping MIN_REPLICAS.

The clock lives in the database, so a restart neither resets nor loses it: `Engine.idle_since` is
set when an engine starts and when its last started stream ends (streams.services), and cleared
while it has a started stream. An engine that has served a stream goes ENGINE_GRACE_PERIOD_S after
it became idle; one never used (no `last_stream_usage`) only IDLE_TTL_S after it started, because
acexy plays only 10 s after provisioning. An engine with a started stream is never removed.
"""

import logging
from datetime import datetime, timedelta

from django.utils import timezone

from core.config import conf
from core.models import Lease

from . import lifecycle
from .models import Engine, State

log = logging.getLogger(__name__)

# Longest a cleanup pass may hold its lease (it removes containers one by one).
CLEANUP_LEASE_S = 300


def expired_idle_engines(now: datetime | None = None) -> list[Engine]:
    """Running managed engines without a started stream whose clock ran out, longest expired first."""
    now = now or timezone.now()
    idle = Engine.objects.managed().idle().filter(state=State.RUNNING)
    return sorted((engine for engine in idle if engine.idle_deadline() <= now),
                  key=Engine.idle_deadline)


def _still_expired(engine: Engine, now: datetime) -> bool:
    """Asked again right before removing: a proxy may have started a stream on it meanwhile."""
    fresh = Engine.objects.managed().idle().filter(pk=engine.pk, state=State.RUNNING).first()
    return fresh is not None and fresh.idle_deadline() <= now


def forget_idle_external_engines(now: datetime | None = None) -> list[str]:
    """Engines a proxy reported but we do not run have no container to remove: their records go
    once they have had no started stream for IDLE_TTL_S, so /engines does not list them forever."""
    cutoff = (now or timezone.now()) - timedelta(seconds=conf().IDLE_TTL_S)
    stale = list(Engine.objects.filter(managed=False, idle_since__lt=cutoff).idle())
    for engine in stale:
        lifecycle.forget_engine(engine, "external_idle")
    return [engine.container_name for engine in stale]


def cleanup_pass() -> list[str]:
    """One pass; returns the names of the engines removed. Passes never overlap (a database
    lease), so two of them cannot both take the fleet down to MIN_REPLICAS."""
    cfg = conf()
    forgotten = forget_idle_external_engines()
    if not cfg.AUTO_DELETE:
        return forgotten
    with Lease.held("cleanup", CLEANUP_LEASE_S) as acquired:
        if not acquired:
            log.info("cleanup already running elsewhere; skipped")
            return []
        removable = Engine.objects.managed().running().count() - cfg.MIN_REPLICAS
        removed = []
        now = timezone.now()
        for engine in expired_idle_engines(now):
            if len(removed) >= removable:
                break
            if _still_expired(engine, now):
                lifecycle.delete_engine(engine, "idle")
                removed.append(engine.container_name)
    if removed:
        log.info("removed idle engines: %s", ", ".join(removed))
    return forgotten + removed
