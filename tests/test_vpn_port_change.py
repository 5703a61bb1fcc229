"""When Gluetun forwards another port, the engine holding the old one is replaced (once its streams
have ended) and the new engine gets the new port as P2P_PORT."""

import pytest

from engines.health import poll_get_status
from engines.models import Engine
from streams.models import Stream
from vpn.models import VpnTransition
from vpn.monitor import check_vpn

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]
pytest_plugins = ["tests.support.gluetun"]


def p2p_ports(gluetun) -> dict[str, str | None]:
    """Container name → the P2P_PORT its process really got."""
    return {
        engine.container_name: gluetun.engine_env(engine.host_http_port)["env"].get("P2P_PORT")
        for engine in Engine.objects.all()
    }


def start_engines(api, count):
    for _ in range(count):
        response = api.post("/provision/acestream", {"wait_ready": True})
        assert response.status_code == 200, response.content


def wait_all_ready():
    for engine in Engine.objects.all():
        assert poll_get_status(engine.host, engine.host_http_port, 10) == ""


def test_port_change_replaces_the_idle_holder(api, gluetun):
    check_vpn()
    start_engines(api, 2)
    holder = Engine.objects.get(p2p_port=5914)
    other = Engine.objects.exclude(pk=holder.pk).get()

    gluetun.set(port="6001")
    check_vpn()
    assert not Engine.objects.filter(pk=holder.pk).exists()
    assert Engine.objects.filter(pk=other.pk, p2p_port=None).exists(), "other engines are kept"
    new = Engine.objects.get(p2p_port=6001)
    assert new.network_parent_id == gluetun.container.id
    wait_all_ready()
    assert sorted(p2p_ports(gluetun).values(), key=str) == ["6001", None]
    replaced = VpnTransition.objects.filter(kind="engine_replaced").get()
    assert replaced.detail == (f"{holder.container_name} ({holder.container_id[:12]}) → "
                               f"{new.container_name} ({new.container_id[:12]})")

    check_vpn()  # nothing more to do
    assert Engine.objects.count() == 2 and Engine.objects.get(p2p_port=6001).pk == new.pk


def test_a_streaming_holder_keeps_its_port_until_its_streams_end(api, gluetun):
    check_vpn()
    start_engines(api, 1)
    holder = Engine.objects.get()
    stream = Stream.objects.create(
        id="ch-1", key_type="infohash", key="0a48", engine=holder, container_id=holder.container_id)

    gluetun.set(port="6002")
    check_vpn()
    assert Engine.objects.get().pk == holder.pk, "never cut a running stream for a port change"

    Stream.objects.filter(pk=stream.pk).update(status="ended")
    check_vpn()
    new = Engine.objects.get()
    assert new.pk != holder.pk and new.p2p_port == 6002
    wait_all_ready()
    assert list(p2p_ports(gluetun).values()) == ["6002"]


def test_a_lost_port_keeps_the_engines(api, gluetun):
    check_vpn()
    start_engines(api, 1)
    holder = Engine.objects.get()
    gluetun.set(port="")
    check_vpn()
    assert Engine.objects.get().pk == holder.pk
