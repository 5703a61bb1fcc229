"""GET /orchestrator/status: what a proxy (acexy of December 2025) asks before it provisions.

Open without a key (acexy sends none there) and always 200, from stored state only: every proxy
polls it every 30 s, and so does monitoring. Every field has SPEC's exact JSON type, since one
wrong type makes acexy's decoder drop the whole body and refuse every player.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from django.db.models import Count, Q
from django.utils import timezone
from ninja import Router, Schema
from pydantic import StrictBool, StrictInt

from core import read_cache
from core.auth import has_api_key
from core.config import conf
from engines import gate
from engines.models import Engine, Health, State
from streams.models import Stream, StreamStatus
from vpn.models import VpnState

router = Router(tags=["status"])


class EngineCounts(Schema):
    total: StrictInt
    running: StrictInt
    healthy: StrictInt
    unhealthy: StrictInt


class StreamCounts(Schema):
    active: StrictInt
    total: StrictInt


class Capacity(Schema):
    total: StrictInt
    used: StrictInt
    available: StrictInt
    max_replicas: StrictInt
    min_replicas: StrictInt


class VpnSummary(Schema):
    enabled: StrictBool
    connected: StrictBool
    health: str
    # With the key only: they name parts of the configuration.
    container: str | None = None
    forwarded_port: StrictInt | None = None


class BlockedDetails(Schema):
    code: str
    message: str
    recovery_eta_seconds: StrictInt | None
    can_retry: StrictBool
    should_wait: StrictBool


class Provisioning(Schema):
    can_provision: StrictBool
    circuit_breaker_state: Literal["closed", "open", "half_open"]
    last_failure: datetime | None
    blocked_reason: str | None
    blocked_reason_details: BlockedDetails | None


class OrchestratorStatus(Schema):
    status: Literal["healthy", "degraded", "unavailable"]
    engines: EngineCounts
    streams: StreamCounts
    capacity: Capacity
    vpn: VpnSummary
    provisioning: Provisioning
    timestamp: datetime


def _stored_state() -> tuple[dict, dict, int, gate.Observed, dict]:
    """Everything the status is made of that lives in the database, in five queries; reused
    until the database changes (read_cache), since every proxy polls this route."""
    engines = Engine.objects.listed().aggregate(
        total=Count("pk"),
        running=Count("pk", filter=Q(state=State.RUNNING)),
        healthy=Count("pk", filter=Q(health_status=Health.HEALTHY)),
        unhealthy=Count("pk", filter=Q(health_status=Health.UNHEALTHY)),
    )
    streams = Stream.objects.aggregate(active=Count("pk", filter=Q(status=StreamStatus.STARTED)),
                                       total=Count("pk"))
    used = Stream.objects.started().filter(engine__in=Engine.objects.listed()).values(
        "engine").distinct().count()
    return engines, streams, used, gate.observe(), _vpn()


def _vpn() -> dict:
    cfg = conf()
    if not cfg.vpn_enabled:
        return {"enabled": False, "connected": False, "health": "unknown"}
    state = VpnState.stored()
    return {"enabled": True, "connected": state.is_up, "health": state.health,
            "container": cfg.GLUETUN_CONTAINER_NAME, "forwarded_port": state.forwarded_port}


def orchestrator_status(reveal: bool) -> dict:
    """The status document; `reveal` adds what only a caller with the key may see."""
    cfg = conf()
    engines, streams, used, observed, vpn = read_cache.reuse("orchestrator-status", _stored_state)
    now = timezone.now()
    blocked = gate.decide(observed, now)
    if not engines["running"]:
        status = "unavailable"
    elif blocked is not None and blocked.is_fault:
        status = "degraded"
    else:
        status = "healthy"
    fleet = observed.fleet
    return {
        "status": status,
        "engines": engines,
        "streams": streams,
        "capacity": {"total": engines["total"], "used": used,
                     "available": max(0, engines["total"] - used),
                     "max_replicas": cfg.replica_cap, "min_replicas": cfg.MIN_REPLICAS},
        "vpn": vpn if reveal else {key: vpn[key] for key in ("enabled", "connected", "health")},
        "provisioning": {
            "can_provision": blocked is None,
            "circuit_breaker_state": fleet.breaker_state(now),
            "last_failure": fleet.last_start_failure_at,
            "blocked_reason": blocked.message if blocked else None,
            "blocked_reason_details": blocked.details(reveal) if blocked else None,
        },
        "timestamp": now,
    }


@router.get("/orchestrator/status", response=OrchestratorStatus, auth=None, exclude_unset=True)
def status(request):
    """Open, always 200: whether provisioning works now and, if not, why (SPEC's codes)."""
    return orchestrator_status(reveal=has_api_key(request))
