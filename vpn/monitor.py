"""The Gluetun monitor: one pass every GLUETUN_HEALTH_CHECK_INTERVAL_S in `manage.py worker`.

A pass looks (Docker, then the control server), records (one short transaction: the state row
and a transition per change), then acts on engines. Looking happens outside any transaction, and
acting reads only stored state, so a pass that failed or never ran is made good by the next.

The tunnel's truth is the control server's status; Docker's own healthcheck of the container is
not consulted (it may be absent, slow, or green while the key is refused).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from core.config import conf
from core.models import Lease
from core.notify import notify
from engines import docker_gateway
from engines.docker_gateway import docker_time

from . import gluetun, services
from .models import VpnState, VpnTransition

log = logging.getLogger(__name__)

# After Gluetun (re)starts, its tunnel needs a while to connect: until then "not running yet"
# is reported as `starting`, not `unhealthy`.
STARTUP_GRACE_S = 60
FOLLOW_UP_S = 0.5
# Held while engines are being replaced; long enough for MAX_ACTIVE_REPLICAS slow stops and starts.
ENGINES_LEASE = "vpn-engines"
ENGINES_LEASE_S = 300


@dataclass(frozen=True)
class Observation:
    container_status: str  # Docker's state, or not_found / error
    container_id: str | None = None  # None: unknown, keep the last known id
    started_at: datetime | None = None
    health: str = "unknown"
    vpn_status: str = ""
    public_ip: str | None = None  # None: unknown, keep the last known address
    forwarded_port: int | None = None
    port_known: bool = False
    auth_error: bool = False
    error: str = ""


def _recently_started(started_at: datetime | None) -> bool:
    return started_at is not None and timezone.now() - started_at < timedelta(seconds=STARTUP_GRACE_S)


def observe() -> Observation:
    """Gluetun as Docker and its control server see it now (no database access)."""
    name = conf().GLUETUN_CONTAINER_NAME
    try:
        view = docker_gateway.get_container(name)
    except docker_gateway.DockerError as exc:
        return Observation("error", health="unknown", error=str(exc))
    if view is None:
        return Observation("not_found", health="unhealthy", error=f"no container named {name!r}")
    seen = Observation(view.status, container_id=view.id, started_at=docker_time(view.started_at))
    if view.restarting:
        return dataclasses.replace(seen, health="starting", error="Gluetun is restarting")
    if not view.running:
        return dataclasses.replace(seen, health="unhealthy", error=f"Gluetun container is {view.status}")
    waiting = "starting" if _recently_started(seen.started_at) else "unhealthy"
    try:
        reading = gluetun.read()
    except gluetun.AuthError as exc:
        return dataclasses.replace(seen, health="unhealthy", auth_error=True, error=str(exc))
    except gluetun.ControlError as exc:
        return dataclasses.replace(seen, health=waiting, error=str(exc))
    up = reading.vpn_status == "running"
    return dataclasses.replace(
        seen,
        health="healthy" if up else waiting,
        vpn_status=reading.vpn_status,
        public_ip=reading.public_ip,
        forwarded_port=reading.forwarded_port,
        port_known=reading.port_known,
        error="; ".join(
            ([] if up else [f"tunnel status is {reading.vpn_status or 'unknown'}"])
            + list(reading.problems)
        ),
    )


def _short(container_id: str) -> str:
    return container_id[:12] if container_id else "none"


def _port_text(port: int | None) -> str:
    return str(port) if port else "none"


def transitions(state: VpnState, seen: Observation) -> list[tuple[str, str]]:
    """What changed between the stored state and this observation, as (kind, detail)."""
    changes = []
    if seen.container_id and state.container_id and seen.container_id != state.container_id:
        changes.append(("recreated",
                        f"container {_short(state.container_id)} → {_short(seen.container_id)}"))
    elif (seen.container_id and seen.container_id == state.container_id and seen.started_at
          and state.container_started_at and seen.started_at != state.container_started_at):
        changes.append(("restarted", f"started again at {seen.started_at.isoformat()}"))
    if seen.auth_error and not state.auth_error:
        changes.append(("auth_error", seen.error[:500]))
    up = seen.container_status == "running" and seen.health == "healthy" and not seen.auth_error
    if state.last_check is None or up != state.is_up:
        if up:
            changes.append(("up", f"public IP {seen.public_ip or 'unknown'}, "
                                  f"forwarded port {_port_text(seen.forwarded_port)}"))
        else:
            changes.append(("down", seen.error[:500] or f"container {seen.container_status}"))
    if seen.port_known and seen.forwarded_port != state.forwarded_port:
        changes.append(("port_changed",
                        f"{_port_text(state.forwarded_port)} → {_port_text(seen.forwarded_port)}"))
    if seen.public_ip and seen.public_ip != state.public_ip:
        changes.append(("public_ip_changed", f"{state.public_ip or 'unknown'} → {seen.public_ip}"))
    return changes


def record(seen: Observation) -> tuple[VpnState, list[tuple[str, str]]]:
    """Store the observation and its transitions in one short transaction."""
    now = timezone.now()
    with transaction.atomic():
        state = VpnState.current()
        changes = transitions(state, seen)
        state.container_name = conf().GLUETUN_CONTAINER_NAME
        state.container_status = seen.container_status
        if seen.container_id:
            state.container_id = seen.container_id
            state.container_started_at = seen.started_at
        state.health = seen.health
        state.vpn_status = seen.vpn_status
        state.auth_error = seen.auth_error
        state.last_error = seen.error[:500]
        if seen.public_ip is not None:
            state.public_ip = seen.public_ip
        if seen.port_known:
            state.forwarded_port = seen.forwarded_port
        state.last_check = now
        if changes:
            state.last_change = now
            VpnTransition.objects.bulk_create(
                [VpnTransition(ts=now, kind=kind, detail=detail) for kind, detail in changes])
            notify("vpn", status=state.container_status, health=state.health,
                   changes=[kind for kind, _ in changes])
        state.save()
    return state, changes


def _log_outcome(kind: str, outcome: services.Replacement) -> None:
    if not outcome.replaced and not outcome.failed:
        return
    detail = ", ".join(f"{old} → {new}" for old, new in outcome.replaced)
    if outcome.failed:
        detail = "; ".join(filter(None, [detail, "failed: " + "; ".join(outcome.failed)]))
    VpnTransition.objects.create(kind=kind, detail=detail[:500])
    notify("vpn", changes=[kind])


def act(state: VpnState) -> None:
    """Bring the engines in line with the tunnel. Only inside a working tunnel: new engines can
    only start there, and engines of a tunnel that merely dropped keep their namespace."""
    if not state.is_up:
        return
    recreate = conf().VPN_RESTART_ENGINES_ON_RECONNECT and services.stale_engines(state)
    move = state.forwarded_port and services.outdated_port_holders(state.forwarded_port)
    if not (recreate or move):
        return
    # A pass outside the worker (`manage.py vpnstatus`) may run beside it: two passes replacing
    # the same engines would each start a successor. The one that does not get the lease leaves
    # the work to the other.
    with Lease.held(ENGINES_LEASE, ENGINES_LEASE_S) as acquired:
        if not acquired:
            return
        if recreate:
            _log_outcome("engines_recreated", services.recreate_stale(state))
        if move:
            _log_outcome("engine_replaced", services.move_forwarded_port(state.forwarded_port))


def _look_and_act() -> VpnState:
    state, changes = record(observe())
    if changes:
        log.info("vpn: %s", ", ".join(f"{kind} ({detail})" for kind, detail in changes))
    act(state)
    return state


def _engines_wait_for_tunnel(state: VpnState) -> bool:
    """Gluetun is coming up again while engines of its old namespace wait to be recreated."""
    return (state.health == "starting" and conf().VPN_RESTART_ENGINES_ON_RECONNECT
            and bool(services.stale_engines(state)))


def check_vpn() -> VpnState | None:
    """One monitor pass; None when no VPN is configured. While a restarted Gluetun connects,
    the pass looks again every FOLLOW_UP_S (within its interval) instead of a whole interval
    later, so the engines come back moments after the tunnel does."""
    if not conf().vpn_enabled:
        return None
    deadline = time.monotonic() + conf().GLUETUN_HEALTH_CHECK_INTERVAL_S - FOLLOW_UP_S
    state = _look_and_act()
    while _engines_wait_for_tunnel(state) and time.monotonic() < deadline:
        time.sleep(FOLLOW_UP_S)
        state = _look_and_act()
    return state
