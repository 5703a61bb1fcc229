"""Behind the VPN only PORT_RANGE_HOST is published on Gluetun: ports asked for outside it, or a
container HTTP port that is not the host port, are refused with 422 before anything starts."""

import pytest

from engines.models import Engine
from vpn.monitor import check_vpn

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]
pytest_plugins = ["tests.support.gluetun"]


def _outside(port_range):
    return port_range.start - 1


def test_ports_outside_the_published_range_are_refused(api, gluetun, settings):
    check_vpn()
    port_range = settings.ORCH.PORT_RANGE_HOST
    inside = sorted(gluetun.engine_ports)
    for body in ({"host_port": _outside(port_range)},
                 {"env": {"CONF": f"--http-port={_outside(port_range)}"}},
                 {"env": {"CONF": f"--https-port={_outside(port_range)}"}},
                 {"host_port": inside[0], "env": {"CONF": f"--http-port={inside[1]}"}}):
        response = api.post("/provision/acestream", body)
        assert response.status_code == 422, (body, response.content)
        assert "PORT_RANGE_HOST" in response.json()["detail"] or "host port" in response.json()[
            "detail"]
    assert not Engine.objects.exists()


def test_a_conf_http_port_inside_the_range_becomes_the_host_port(api, gluetun, fleet):
    check_vpn()
    port = sorted(gluetun.engine_ports)[-1]
    response = api.post("/provision/acestream", {
        "env": {"CONF": f"--http-port={port}\n--bind-all"}, "wait_ready": True})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["host_http_port"] == body["container_http_port"] == port
    assert gluetun.engine_env(port)["http_port"] == port


def test_conf_ports_must_be_port_numbers(api, fleet):
    response = api.post("/provision/acestream", {"env": {"CONF": "--http-port=99999"}})
    assert response.status_code == 422
    assert "99999" in response.json()["detail"]


def test_reconcile_waits_for_the_tunnel_instead_of_failing(api, gluetun, orch):
    from engines import sync

    check_vpn()
    gluetun.set(status="stopped")
    check_vpn()
    orch(MIN_REPLICAS=1)
    summary = sync.reconcile()
    assert summary["provisioned"] == 0 and summary["blocked"] == "vpn_disconnected"
    assert not Engine.objects.exists()
