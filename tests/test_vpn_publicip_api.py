"""GET /vpn/publicip: the public IP the VPN monitor last read from Gluetun."""

import pytest
from django.utils import timezone

from vpn.models import VpnState

pytestmark = pytest.mark.django_db


def test_vpn_mode_off_is_409(api):
    response = api.get("/vpn/publicip")
    assert response.status_code == 409 and "VPN mode is off" in response.json()["detail"]


def test_the_stored_ip(api, orch):
    orch(GLUETUN_CONTAINER_NAME="gluetun")
    assert api.get("/vpn/publicip").status_code == 503
    state = VpnState.current()
    state.container_status, state.health, state.container_id = "running", "healthy", "c0ffee"
    state.public_ip, state.last_check = "203.0.113.7", timezone.now()
    state.save()
    body = api.get("/vpn/publicip").json()
    assert body["public_ip"] == "203.0.113.7" and body["last_check"].endswith(("Z", "+00:00"))
