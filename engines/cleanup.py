"""AUTO_DELETE: remove engines that have had no stream for a while, keeping MIN_REPLICAS."""

import logging
from datetime import timedelta

from django.utils import timezone

from orchestrator_site.config import conf

from . import services
from .models import Engine, State

log = logging.getLogger(__name__)


def expired_idle_engines(now=None) -> list[Engine]:
    """Idle engines past their clock: ENGINE_GRACE_PERIOD_S after their last stream ended, or
    IDLE_TTL_S after start for one never used (acexy plays only 10 s after provisioning)."""
    cfg = conf()
    now = now or timezone.now()
    grace = timedelta(seconds=cfg.ENGINE_GRACE_PERIOD_S)
    never_used_ttl = timedelta(seconds=cfg.IDLE_TTL_S)
    expired = []
    for engine in services.idle_engines().filter(state=State.RUNNING):
        if engine.last_stream_usage is None:
            if engine.first_seen <= now - never_used_ttl:
                expired.append(engine)
        elif (engine.idle_since or engine.last_stream_usage) <= now - grace:
            expired.append(engine)
    return expired


def run_cleanup() -> list[str]:
    cfg = conf()
    if not cfg.AUTO_DELETE:
        return []
    removable = Engine.objects.managed().exclude(state=State.STARTING).count() - cfg.MIN_REPLICAS
    removed = []
    for engine in expired_idle_engines()[: max(0, removable)]:
        services.delete_engine(engine, "idle")
        removed.append(engine.container_name)
    if removed:
        log.info("removed idle engines: %s", ", ".join(removed))
    return removed

