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


def _why_down(state: VpnState) -> str:
    if state.last_check is None:
        return "the VPN monitor has not checked Gluetun yet; retry in a few seconds"
    if state.auth_error:
        return "the Gluetun control server refused our API key (GLUETUN_API_KEY)"
    return state.last_error or f"container {state.container_status}, health {state.health}"


def placement() -> Placement | None:
    """None without VPN; else where to start an engine, or `TunnelDown` at once when the
    tunnel is not up (provisioning must never wait on a dead tunnel). Reads stored state only:
    the monitor keeps it current."""
    if not conf().vpn_enabled:
        return None
    state = VpnState.stored()
    if not state.is_up or not state.container_id:
        raise TunnelDown(f"VPN is not connected: {_why_down(state)}")
    return Placement(
        network_mode=f"container:{state.container_id}",
        parent_id=state.container_id,
        forwarded_port=state.forwarded_port,
    )
