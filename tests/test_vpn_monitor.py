"""The VPN monitor stores what Gluetun's container and control server say, keeps a history of
changes, and /vpn/status answers it from the database."""


import pytest

from vpn.models import VpnState, VpnTransition
from vpn.monitor import check_vpn

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]
pytest_plugins = ["tests.support.gluetun"]


def kinds() -> list[str]:
    return list(VpnTransition.objects.order_by("id").values_list("kind", flat=True))


def test_disabled_shape(api):
    assert check_vpn() is None
    response = api.get("/vpn/status")
    assert response.status_code == 200
    assert response.json() == {
        "enabled": False, "status": "disabled", "container_name": None, "health": "unknown",
        "forwarded_port": None, "last_check": None,
    }


def test_status_public_ip_and_port_are_stored_and_served(api, gluetun):
    assert api.get("/vpn/status").json()["health"] == "unknown"  # nothing checked yet
    check_vpn()
    body = api.get("/vpn/status").json()
    assert body["enabled"] is True
    assert body["status"] == "running"
    assert body["container_name"] == gluetun.name
    assert body["health"] == "healthy"
    assert body["forwarded_port"] == 5914
    assert body["public_ip"] == "203.0.113.7"
    assert body["vpn_status"] == "running"
    assert body["auth_error"] is False
    assert body["last_check"].endswith(("Z", "+00:00"))
    assert body["container_id"] == gluetun.container.id
    assert kinds() == ["up", "port_changed", "public_ip_changed"]

    check_vpn()  # nothing changed: no new history
    assert len(kinds()) == 3

    gluetun.set(port="6001", public_ip="198.51.100.9")
    check_vpn()
    body = api.get("/vpn/status").json()
    assert (body["forwarded_port"], body["public_ip"]) == (6001, "198.51.100.9")
    assert kinds()[3:] == ["port_changed", "public_ip_changed"]
    latest = body["recent_transitions"]
    assert {t["kind"]: t["detail"] for t in latest[:2]} == {
        "port_changed": "5914 → 6001", "public_ip_changed": "203.0.113.7 → 198.51.100.9"}
    assert latest[0]["ts"].endswith(("Z", "+00:00"))


def test_tunnel_down_and_up_again(api, gluetun):
    check_vpn()
    gluetun.set(status="stopped")
    check_vpn()
    body = api.get("/vpn/status").json()
    assert body["status"] == "running"  # the container runs, the tunnel does not
    assert body["vpn_status"] == "stopped"
    assert body["health"] in ("starting", "unhealthy")
    assert not VpnState.current().is_up
    gluetun.set(status="running")
    check_vpn()
    assert api.get("/vpn/status").json()["health"] == "healthy"
    assert kinds()[-2:] == ["down", "up"]


def test_old_gluetun_forwarded_port_comes_from_the_openvpn_route(api, gluetun):
    gluetun.set(api_version="old", port="7007")
    check_vpn()
    assert api.get("/vpn/status").json()["forwarded_port"] == 7007


def test_no_port_forwarded_is_null(api, gluetun):
    gluetun.set(port="")
    check_vpn()
    body = api.get("/vpn/status").json()
    assert body["health"] == "healthy" and body["forwarded_port"] is None


def test_stopped_and_missing_container(api, gluetun):
    check_vpn()
    gluetun.container.stop(timeout=2)
    check_vpn()
    body = api.get("/vpn/status").json()
    assert (body["status"], body["health"]) == ("exited", "unhealthy")
    assert body["forwarded_port"] == 5914  # last known, the container is only stopped

    gluetun.container.remove(force=True)
    check_vpn()
    body = api.get("/vpn/status").json()
    assert (body["status"], body["health"]) == ("not_found", "unhealthy")
    assert kinds()[-1] == "down"


def test_a_refused_control_server_is_unhealthy_without_waiting_for_a_timeout(api, gluetun, orch):
    orch(GLUETUN_API_URL="http://127.0.0.1:9")  # nothing listens on the discard port
    check_vpn()
    body = api.get("/vpn/status").json()
    assert body["health"] in ("starting", "unhealthy")
    # Refused, so noticed at once: not a timeout, nor a retry until one.
    assert "control server unreachable (ConnectError)" in body["last_error"]
