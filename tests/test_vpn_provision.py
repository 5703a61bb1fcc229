"""Engines behind Gluetun: started in its network namespace, reached on ports it publishes, one of
them holding the forwarded port; provisioning fails at once while the tunnel is down."""

import pytest

from engines.models import Engine, PortReservation
from vpn import gluetun as gluetun_client
from vpn.monitor import check_vpn

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]
pytest_plugins = ["tests.support.gluetun"]


def provision(api, **body):
    return api.post("/provision/acestream", {"labels": {}, "env": {}, **body})


def test_engines_run_in_the_namespace_with_ports_from_the_range(api, gluetun, fleet):
    check_vpn()
    bodies = []
    for _ in range(3):
        response = provision(api, wait_ready=True)
        assert response.status_code == 200, response.content
        bodies.append(response.json())

    ports = []
    p2p = []
    for body in bodies:
        container = fleet.containers.get(body["container_id"])
        assert container.attrs["HostConfig"]["NetworkMode"] == f"container:{gluetun.container.id}"
        http, https = body["container_http_port"], body["container_https_port"]
        assert body["host_http_port"] == http
        assert http in gluetun.engine_ports and https in gluetun.engine_ports
        ports += [http, https]
        seen = gluetun.engine_env(body["host_http_port"])  # reached through Gluetun's published port
        assert (seen["http_port"], seen["https_port"]) == (http, https)
        p2p.append(seen["env"].get("P2P_PORT"))
    assert len(set(ports)) == 6, "every engine has its own HTTP and HTTPS port"
    assert sorted(p2p, key=str) == ["5914", None, None], "exactly one engine gets the forwarded port"

    engines = api.get("/engines").json()
    assert sum(engine["forwarded"] for engine in engines) == 1
    holder = next(engine for engine in engines if engine["forwarded"])
    assert holder["p2p_port"] == 5914 and holder["labels"]["acestream.p2p_port"] == "5914"

    for body in bodies:
        assert api.delete(f"/containers/{body['container_id']}").status_code == 200
    assert not PortReservation.objects.exists(), "HTTP and HTTPS ports are both freed"
    assert not Engine.objects.exists()


def test_the_forwarded_port_goes_to_a_new_engine_once_its_holder_is_gone(api, gluetun):
    check_vpn()
    first = provision(api).json()
    assert Engine.objects.get(container_id=first["container_id"]).p2p_port == 5914
    api.delete(f"/containers/{first['container_id']}")
    second = provision(api).json()
    assert Engine.objects.get(container_id=second["container_id"]).p2p_port == 5914


def test_max_active_replicas_caps_engines_behind_the_vpn(api, gluetun, orch):
    orch(MAX_ACTIVE_REPLICAS=2)
    check_vpn()
    assert provision(api).status_code == 200
    assert provision(api).status_code == 200
    refused = provision(api)
    assert refused.status_code == 503
    detail = refused.json()["detail"]
    assert detail["code"] == "max_capacity" and "maximum number of engines" in detail["message"]


def test_provisioning_before_the_first_check_is_refused(api, gluetun):
    response = provision(api)
    assert response.status_code == 503
    detail = response.json()["detail"]
    assert detail["code"] == "vpn_disconnected" and "not checked Gluetun yet" in detail["message"]


def test_provisioning_while_the_tunnel_is_down_answers_503_from_the_stored_state(
        api, gluetun, fleet, settings, monkeypatch):
    check_vpn()
    gluetun.set(status="stopped")
    check_vpn()

    def asked_gluetun(*args, **kwargs):
        raise AssertionError("provisioning asked Gluetun instead of the monitor's stored state")

    # At once: no look at the control server (which may hang while the tunnel is down).
    monkeypatch.setattr(gluetun_client, "_client", asked_gluetun)
    response = provision(api)
    assert response.status_code == 503
    detail = response.json()["detail"]
    assert detail["code"] == "vpn_disconnected" and detail["can_retry"] and detail["should_wait"]
    assert detail["message"].startswith("the VPN is not connected: ")
    assert "stopped" in detail["message"]
    assert not Engine.objects.exists() and not PortReservation.objects.exists()
    assert not fleet.containers.list(all=True, filters={"label": settings.ORCH.CONTAINER_LABEL})
