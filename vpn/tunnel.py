"""Where new engines go: on the default network, or inside Gluetun's network namespace."""

from dataclasses import dataclass

from orchestrator_site.config import conf

from .models import VpnState


class TunnelDown(Exception):
    pass


@dataclass(frozen=True)
class Placement:
    network_mode: str
    parent_id: str
    forwarded_port: int | None


def placement() -> Placement | None:
    """None without VPN; else where to start an engine, or `TunnelDown` at once when the
    tunnel is not up (provisioning must never wait on a dead tunnel)."""
    if not conf().vpn_enabled:
        return None
    state = VpnState.current()
    if not state.is_up or not state.container_id:
        reason = state.last_error or f"container {state.container_status}, health {state.health}"
        if state.auth_error:
            reason = "the Gluetun control server refused our API key"
        raise TunnelDown(f"VPN is not connected: {reason}")
    return Placement(
        network_mode=f"container:{state.container_id}",
        parent_id=state.container_id,
        forwarded_port=state.forwarded_port,
    )
