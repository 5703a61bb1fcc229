"""A control server that refuses our key is an auth error: never healthy, never "no port
forwarded", and provisioning is refused with a detail that names the key."""

import pytest

from vpn.models import VpnTransition
from vpn.monitor import check_vpn

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]
pytest_plugins = ["tests.support.gluetun"]


def test_refused_key_is_an_auth_error_until_the_right_key_is_sent(api, gluetun, orch):
    check_vpn()
    gluetun.set(api_key="s3cret")
    check_vpn()
    body = api.get("/vpn/status").json()
    assert body["auth_error"] is True
    assert body["health"] == "unhealthy"
    assert body["status"] == "running"
    assert body["forwarded_port"] == 5914, "a refused key says nothing about the port"
    assert "401" in body["last_error"] and "GLUETUN_API_KEY" in body["last_error"]
    assert {"auth_error", "down"} <= set(VpnTransition.objects.values_list("kind", flat=True))

    refused = api.post("/provision/acestream", {})
    assert refused.status_code == 503
    detail = refused.json()["detail"]
    assert detail["code"] == "vpn_disconnected" and "API key" in detail["message"]

    orch(GLUETUN_API_KEY="s3cret")  # sent as X-API-Key
    check_vpn()
    body = api.get("/vpn/status").json()
    assert (body["auth_error"], body["health"]) == (False, "healthy")
    assert api.post("/provision/acestream", {}).status_code == 200


def test_auth_error_on_first_contact_leaves_the_port_unknown(api, gluetun):
    gluetun.set(api_key="s3cret")
    check_vpn()
    body = api.get("/vpn/status").json()
    assert (body["auth_error"], body["health"], body["forwarded_port"]) == (True, "unhealthy", None)
