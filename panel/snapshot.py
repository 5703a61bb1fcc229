"""What the panel shows, in one read: the server-rendered first paint and /panel/state.json both come
from `fleet_snapshot()`, so the page and its live updates can never disagree about the data."""

from __future__ import annotations

from django.db.models import Count, Q
from django.utils import timezone

from core.config import conf
from engines.models import Engine, Health
from streams.models import Stream, StreamStatus
from streams.services import with_latest_stats
from vpn.models import VpnState, VpnTransition

RECENT_TRANSITIONS = 8
# Labels the orchestrator, Docker or image builders set; the panel shows only the operator's own.
SYSTEM_LABEL_PREFIXES = ("acestream.", "host.", "orchestrator.", "com.docker.", "org.opencontainers.")


def fleet_snapshot() -> dict:
    engines = _engines()
    streams = _streams()
    vpn = _vpn()
    health = {status: 0 for status in Health.values}
    for engine in engines:
        health[engine["health"]] = health.get(engine["health"], 0) + 1
    latest = [stream["latest"] for stream in streams if stream["latest"]]
    return {
        "generated_at": timezone.now(),
        "kpis": {
            "engines": {**health, "total": len(engines)},
            "active_streams": len(streams),
            "speed_down": sum(stats["speed_down"] or 0 for stats in latest),
            "speed_up": sum(stats["speed_up"] or 0 for stats in latest),
            "peers": sum(stats["peers"] or 0 for stats in latest),
            "vpn": {key: vpn[key] for key in ("status", "public_ip", "forwarded_port")},
        },
        "engines": engines,
        "streams": streams,
        "vpn": vpn,
    }


def _engines() -> list[dict]:
    rows = Engine.objects.listed().annotate(
        active_streams=Count("streams", filter=Q(streams__status=StreamStatus.STARTED))
    ).order_by("container_name")  # aggregation drops Meta.ordering
    return [
        {
            "id": engine.pk,
            "name": engine.container_name,
            "container_id": engine.container_id or "",
            "health": engine.health_status,
            "health_error": engine.last_health_error,
            "state": engine.state,
            "managed": engine.managed,
            "host": engine.host,
            "port": engine.port,
            "active_streams": engine.active_streams,
            "last_used": engine.last_stream_usage,
            "last_check": engine.last_health_check,
            "running_since": engine.first_seen if engine.state == "running" else None,
            "forwarded": engine.forwarded,
            "p2p_port": engine.p2p_port,
            "labels": _operator_labels(engine.labels),
        }
        for engine in rows
    ]


def _operator_labels(labels: dict) -> dict:
    own = conf().label_key
    return {key: value for key, value in labels.items()
            if key != own and not key.startswith(SYSTEM_LABEL_PREFIXES)}


def _streams() -> list[dict]:
    rows = with_latest_stats(Stream.objects.started().select_related("engine").order_by("-started_at"))
    return [
        {
            "id": stream.id,
            "key_type": stream.key_type,
            "key": stream.key,
            "engine": stream.engine.container_name if stream.engine else "",
            "container_id": stream.container_id,
            "playback_session_id": stream.playback_session_id,
            "is_live": stream.is_live,
            "started_at": stream.started_at,
            "labels": stream.labels,
            "latest": stream.latest_stats,
        }
        for stream in rows
    ]


def _vpn() -> dict:
    transitions = [
        {"ts": row.ts, "kind": row.kind, "detail": row.detail}
        for row in VpnTransition.objects.all()[:RECENT_TRANSITIONS]
    ]
    if not conf().vpn_enabled:
        return {"status": "disabled", "health": "unknown", "container_name": "",
                "container_status": "", "public_ip": "", "forwarded_port": None, "last_check": None,
                "last_error": "", "transitions": transitions}
    state = VpnState.stored()
    return {
        "status": "connected" if state.is_up else "down",
        "health": state.health,
        "container_name": state.container_name or conf().GLUETUN_CONTAINER_NAME,
        "container_status": state.container_status,
        "public_ip": state.public_ip,
        "forwarded_port": state.forwarded_port,
        "last_check": state.last_check,
        "last_error": state.last_error,
        "transitions": transitions,
    }
