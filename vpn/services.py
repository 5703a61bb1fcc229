"""Engines behind the tunnel: recreate those that lost their network, and move the forwarded port
to a fresh engine when Gluetun forwards another one.

Everything here is decided from the database and Gluetun's stored state, so a missed monitor tick
is healed by the next one. Engines are replaced through the engines app's public lifecycle
functions, one at a time (retire one, start one); the first failure stops the pass, leaving the
rest to the next tick instead of retiring engines that cannot be replaced now.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db.models import Q

from core.config import conf
from core.errors import OrchestratorError
from engines.lifecycle import delete_engine
from engines.models import Engine, State
from engines.provisioning import EngineRequest, provision_engine

from .models import VpnState

log = logging.getLogger(__name__)

RECONNECT_REASON = "vpn_reconnect"
PORT_CHANGE_REASON = "vpn_port_changed"
# Labels the orchestrator writes itself; everything else on an engine came with its request.
OWN_LABELS = ("acestream.http_port", "acestream.https_port", "acestream.p2p_port",
              "host.http_port", "host.https_port")


@dataclass
class Replacement:
    replaced: list[tuple[str, str]] = field(default_factory=list)  # (old, new) as `name (id)`
    failed: list[str] = field(default_factory=list)


def _describe(engine: Engine) -> str:
    # Names are reused (the lowest free number), so the short id tells old and new apart.
    return f"{engine.container_name} ({(engine.container_id or '')[:12]})"


def stale_engines(state: VpnState) -> list[Engine]:
    """Engines that joined a Gluetun network namespace which no longer exists: that of another
    container (Gluetun was recreated), or of this one before its last start (it restarted)."""
    if not state.container_id:
        return []
    outdated = ~Q(network_parent_id=state.container_id)
    if state.container_started_at:
        outdated |= Q(first_seen__lt=state.container_started_at)
    return list(
        Engine.objects.behind_vpn().exclude(state=State.STARTING)
        .filter(outdated).order_by("container_name")
    )


def outdated_port_holders(forwarded_port: int) -> list[Engine]:
    """Engines holding a forwarded port Gluetun no longer forwards, without a started stream:
    a holder that is still streaming keeps its port until its streams end."""
    return list(
        Engine.objects.managed().idle().exclude(state=State.STARTING)
        .filter(p2p_port__isnull=False).exclude(p2p_port=forwarded_port)
    )


def _request_like(engine: Engine) -> EngineRequest:
    """Ask for the same image and the caller's own labels; ports and P2P port are chosen anew."""
    cfg = conf()
    own = {cfg.label_key, *OWN_LABELS}
    return EngineRequest(
        image=engine.image or None,
        labels={key: value for key, value in engine.labels.items() if key not in own},
    )


def replace(engines: list[Engine], reason: str) -> Replacement:
    """Retire each engine (its streams end with `reason`) and start one in its place."""
    outcome = Replacement()
    for engine in engines:
        request = _request_like(engine)
        try:
            delete_engine(engine, reason)  # ends its streams with `reason` before the container dies
            new = provision_engine(request)
        except OrchestratorError as exc:  # the next tick tries again
            log.warning("could not replace engine %s (%s): %s", engine.container_name, reason, exc)
            outcome.failed.append(f"{engine.container_name}: {exc}")
            break  # retiring more engines now would only lower the count; the next tick retries
        outcome.replaced.append((_describe(engine), _describe(new)))
        log.info("replaced engine %s by %s (%s)", *outcome.replaced[-1], reason)
    return outcome


def recreate_stale(state: VpnState) -> Replacement:
    return replace(stale_engines(state), RECONNECT_REASON)


def move_forwarded_port(forwarded_port: int) -> Replacement:
    return replace(outdated_port_holders(forwarded_port), PORT_CHANGE_REASON)
