from ninja import Router

from core.config import conf
from core.errors import Conflict, Unavailable
from vpn.models import VpnState, VpnTransition

from . import schemas

router = Router(tags=["vpn"])

RECENT_TRANSITIONS = 10

DISABLED = {
    "enabled": False,
    "status": "disabled",
    "container_name": None,
    "health": "unknown",
    "forwarded_port": None,
    "last_check": None,
}


@router.get("/vpn/status", response=schemas.VpnStatusOut, exclude_unset=True)
def vpn_status(request):
    """What the monitor last stored about Gluetun; never asks Gluetun inside the request."""
    if not conf().vpn_enabled:
        return DISABLED
    state = VpnState.stored()
    return {
        "enabled": True,
        "status": state.container_status,
        "container_name": state.container_name or conf().GLUETUN_CONTAINER_NAME,
        "health": state.health,
        "forwarded_port": state.forwarded_port,
        "last_check": state.last_check,
        "public_ip": state.public_ip or None,
        "vpn_status": state.vpn_status or None,
        "auth_error": state.auth_error,
        "container_id": state.container_id or None,
        "last_error": state.last_error or None,
        "recent_transitions": list(VpnTransition.objects.all()[:RECENT_TRANSITIONS]),
    }


@router.get("/vpn/publicip", response=schemas.PublicIpOut)
def vpn_public_ip(request):
    """The VPN's public IP as the monitor last read it from Gluetun."""
    if not conf().vpn_enabled:
        raise Conflict("VPN mode is off (GLUETUN_CONTAINER_NAME is not set): there is no VPN public IP")
    state = VpnState.stored()
    if not state.public_ip:
        why = "Gluetun has not reported it" if state.is_up else state.why_down()
        raise Unavailable(f"the VPN's public IP is not known yet: {why}")
    return {"public_ip": state.public_ip, "last_check": state.last_check}
