"""The VPN in the admin: the monitor's state with coloured status and its transitions, read-only."""

import pytest

from vpn.models import VpnState, VpnTransition

pytestmark = pytest.mark.django_db


def test_state_and_transitions_are_listed_read_only(admin_client):
    VpnState.objects.create(pk=1, container_name="gluetun", container_status="running",
                            health="unhealthy", public_ip="203.0.113.7", forwarded_port=5914)
    VpnTransition.objects.create(kind="port_changed", detail="none → 5914")
    VpnTransition.objects.create(kind="down", detail="<script>alert(1)</script>")

    states = admin_client.get("/admin/vpn/vpnstate/").content.decode()
    assert 'color:#2e9e48;font-weight:600">&#9679; running' in states
    assert 'color:#d1372e;font-weight:600">&#9679; unhealthy' in states
    assert "203.0.113.7" in states and "5914" in states

    transitions = admin_client.get("/admin/vpn/vpntransition/?kind=port_changed").content.decode()
    assert "none → 5914" in transitions
    everything = admin_client.get("/admin/vpn/vpntransition/").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in everything

    assert admin_client.get("/admin/vpn/vpnstate/add/").status_code == 403
    form = admin_client.get("/admin/vpn/vpnstate/1/change/").content.decode()
    assert 'name="public_ip"' not in form
