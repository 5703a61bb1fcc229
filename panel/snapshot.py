"""What the panel shows, in one read: the server-rendered first paint and /panel/state.json both come
from `fleet_snapshot()`, so the page and its live updates can never disagree about the data."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from core import api_key, peers
from core.config import conf
from engines import gate
from engines.models import Engine, Health
from playback.models import PlayedContent
from streams.models import Stream, StreamStatus
from streams.services import with_latest_stats
from vpn.models import VpnState, VpnTransition

RECENT_TRANSITIONS = 8
# Labels the orchestrator, Docker or image builders set; the panel shows only the operator's own.
SYSTEM_LABEL_PREFIXES = ("acestream.", "host.", "orchestrator.", "com.docker.", "org.opencontainers.")


def fleet_snapshot() -> dict:
    now = timezone.now()
    played = _played()
    engines = _engines(played)
    streams = _streams(played)
    vpn = _vpn()
    health = {status: 0 for status in Health.values}
    for engine in engines:
        health[engine["health"]] = health.get(engine["health"], 0) + 1
    latest = [stream["latest"] for stream in streams if stream["latest"]]
    return {
        "generated_at": now,
        "provisioning": provisioning_status(now),
        "security": security_status(),
        "kpis": {
            "engines": {**health, "total": len(engines), "min_replicas": conf().MIN_REPLICAS,
                        "healthy_level": healthy_level(health[Health.HEALTHY])},
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


# What each blocking reason means to an operator and what helps; `message` comes from the gate.
PROBLEMS = {
    "docker_unreachable": (
        "Docker does not answer",
        "Start Docker (dockerd) or check DOCKER_HOST: provisioning resumes by itself once it "
        "answers."),
    "image_unavailable": (
        "The engine image is not available",
        "Load it on the Docker host (docker pull or docker load), or choose another engine "
        "image; the pull is tried again with a growing backoff."),
    "vpn_disconnected": (
        "The VPN is down",
        "Check the Gluetun container and its provider settings: engines start again once the "
        "tunnel is up."),
    "circuit_breaker": (
        "Engine starts keep failing: the circuit breaker stopped them",
        "Fix what the last failure names, then reset the breaker (it also lets one trial start "
        "through when its cool-down ends)."),
    "max_capacity": (
        "The fleet is at its capacity",
        "No engine can be added: delete idle engines or raise MAX_REPLICAS."),
}


def _url(name: str, query: str = "") -> str | None:
    """An admin link, or None while that page does not exist (Settings may not yet)."""
    try:
        return reverse(name) + query
    except NoReverseMatch:
        return None


def _actions(code: str) -> list[dict]:
    """The links that help with `code`, for the panel's banner and the admin index's box."""
    wanted = {
        "docker_unreachable": [("Provision one engine", "admin:engines_engine_provision", "?count=1")],
        "image_unavailable": [("Edit the engine image", "admin:core_settings", "#setting-target_image"),
                              ("Provision one engine", "admin:engines_engine_provision", "?count=1")],
        "vpn_disconnected": [("VPN state", "admin:vpn_vpnstate_changelist", "")],
        "circuit_breaker": [("Reset the breaker", "admin:engines_fleet_reset_breaker", "")],
        "max_capacity": [("Engines", "admin:engines_engine_changelist", "")],
    }[code]
    return [{"label": label, "url": url} for label, name, query in wanted
            if (url := _url(name, query))]


def provisioning_status(now=None) -> dict:
    """Why provisioning is blocked, if it is, as the panel's banner and the admin index show it
    (staff only: the message includes what reveals the configuration, such as the image)."""
    now = now or timezone.now()
    blocked = gate.decide(gate.observe(), now)
    if blocked is None:
        return {"blocked": False}
    title, advice = PROBLEMS[blocked.code]
    eta = blocked.recovery_eta_seconds
    # Only the open breaker's ETA is a clock that runs out by itself (then half-open): the page
    # counts it down and reads the state again at zero.
    counting = blocked.code == "circuit_breaker" and not blocked.can_retry and eta is not None
    return {
        "blocked": True,
        "code": blocked.code,
        "level": "fault" if blocked.is_fault else "notice",
        "title": title,
        "message": blocked.text(reveal=True),
        "advice": advice,
        "recovery_eta_seconds": eta,
        "countdown_until": now + timedelta(seconds=eta) if counting else None,
        "can_retry": blocked.can_retry,
        "should_wait": blocked.should_wait,
        "actions": _actions(blocked.code),
    }


def healthy_level(healthy: int) -> str:
    """The colour of the healthy-engines figure: never green below MIN_REPLICAS."""
    wanted = conf().MIN_REPLICAS
    if healthy == 0:
        return "bad" if wanted > 0 else "none"
    return "warn" if healthy < wanted else "ok"


def security_status() -> dict:
    """How the API is guarded: by API_KEY, by the generated key file, or not at all."""
    source = api_key.source()
    return {"api_key_source": source, "open_api": source == api_key.OPEN,
            "api_key_url": _url("admin:api_key")}


def _played() -> list[PlayedContent]:
    return list(PlayedContent.objects.all())


def _engines(played: list[PlayedContent]) -> list[dict]:
    serving: dict[str, list[str]] = {}
    for content in played:
        serving.setdefault(content.engine, []).append(content.key)
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
            "playing": serving.get(engine.container_name, []),  # contents the orchestrator plays
        }
        for engine in rows
    ]


def _operator_labels(labels: dict) -> dict:
    own = conf().label_key
    return {key: value for key, value in labels.items()
            if key != own and not key.startswith(SYSTEM_LABEL_PREFIXES)}


def _streams(played: list[PlayedContent]) -> list[dict]:
    players = {content.stream_id: content.players for content in played}
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
            # Streams the orchestrator plays itself: how many players watch them now.
            "played_by_orchestrator": bool(stream.played_by),
            "players": players.get(stream.id, 0) if stream.played_by else None,
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


def admin_status() -> dict:
    """The admin index's status box: the panel's banner and figures, and the links that help
    (the blocking reason's own first, then the usual ones, each once)."""
    now = timezone.now()
    healthy = Engine.objects.listed().filter(health_status=Health.HEALTHY).count()
    breaker = gate.observe().fleet.breaker_state(now)
    problem = provisioning_status(now)
    links = [{**action, "primary": True} for action in problem.get("actions", [])]
    usual = []
    if problem.get("code") != "max_capacity":
        usual.append(("Provision one engine", _url("admin:engines_engine_provision", "?count=1")))
    if breaker != "closed":
        usual.append(("Reset the breaker", _url("admin:engines_fleet_reset_breaker")))
    usual.append(("Engines", _url("admin:engines_engine_changelist")))
    for label, url in usual:
        if url and all(link["url"] != url for link in links):
            links.append({"label": label, "url": url, "primary": False})
    return {
        "provisioning": problem,
        "security": security_status(),
        "engines": Engine.objects.managed().listed().count(),
        "healthy": healthy,
        "healthy_level": healthy_level(healthy),
        "min_replicas": conf().MIN_REPLICAS,
        "breaker": breaker,
        "links": links,
        "other_keys": [str(peer) for peer in peers.with_another_key()],
    }
