"""Where new engines go: on the default network, or inside Gluetun's network namespace.

Answers two of the engines app's hooks (registered in VpnConfig.ready()): `placement` for a new
engine, and `vpn_blocked`, the VPN's reason provisioning is blocked, for the gate.
"""

from core.config import conf
from engines.gate import Blocked, ProvisioningBlocked
from engines.hooks import Placement

from .models import VpnState

RETRY_ETA_S = 60


def vpn_blocked() -> Blocked | None:
    """None without VPN or with the tunnel up; reads stored state only (the monitor keeps it)."""
    if not conf().vpn_enabled:
        return None
    state = VpnState.stored()
    if state.is_up and state.container_id:
        return None
    return Blocked("vpn_disconnected", "the VPN is not connected", RETRY_ETA_S,
                   can_retry=True, should_wait=True, private=state.why_down())


def placement() -> Placement | None:
    """None without VPN; else where to start an engine, or ProvisioningBlocked at once when the
    tunnel is not up (provisioning must never wait on a dead tunnel)."""
    if problem := vpn_blocked():
        raise ProvisioningBlocked(problem)
    if not conf().vpn_enabled:
        return None
    state = VpnState.stored()
    return Placement(
        network_mode=f"container:{state.container_id}",
        parent_id=state.container_id,
        forwarded_port=state.forwarded_port,
    )
