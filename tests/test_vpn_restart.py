"""A restarted or recreated Gluetun container takes its network namespace with it: the engines in
it are recreated in the new one and their streams end with `vpn_reconnect`. A tunnel that only
drops and comes back inside the same container keeps its engines."""

import threading

import pytest

from core.models import Lease
from engines.health import poll_get_status, probe
from engines.models import Engine
from streams.models import Stream
from vpn.models import VpnTransition
from vpn.monitor import ENGINES_LEASE, check_vpn

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]
pytest_plugins = ["tests.support.gluetun"]


def start_engines(api, count) -> set[str]:
    for _ in range(count):
        response = api.post("/provision/acestream", {"wait_ready": True})
        assert response.status_code == 200, response.content
    return set(Engine.objects.values_list("container_id", flat=True))


def assert_serving(gluetun, count):
    engines = list(Engine.objects.all())
    assert len(engines) == count
    for engine in engines:
        assert engine.network_parent_id == gluetun.container.id
        assert poll_get_status(engine.host, engine.host_http_port, 10) == ""
    forwarded = [gluetun.engine_env(engine.host_http_port)["env"].get("P2P_PORT") for engine in engines]
    assert sorted(forwarded, key=str) == ["5914"] + [None] * (count - 1)


def test_restart_recreates_engines_and_ends_their_streams(api, gluetun, fleet):
    check_vpn()
    old = start_engines(api, 3)
    streaming = Engine.objects.first()
    Stream.objects.create(id="ch-42", key_type="infohash", key="0a48", engine=streaming,
                          container_id=streaming.container_id)

    gluetun.restart()
    assert probe(streaming.host, streaming.host_http_port, timeout=1), "the old namespace is gone"
    check_vpn()

    kinds = set(VpnTransition.objects.values_list("kind", flat=True))
    assert {"restarted", "engines_recreated"} <= kinds
    assert old.isdisjoint(Engine.objects.values_list("container_id", flat=True))
    assert not fleet.containers.list(all=True, filters={"id": streaming.container_id})
    assert_serving(gluetun, 3)
    stream = Stream.objects.get(id="ch-42")
    assert (stream.status, stream.ended_reason) == ("ended", "vpn_reconnect")

    check_vpn()  # healed: nothing more to recreate
    assert VpnTransition.objects.filter(kind="engines_recreated").count() == 1


def test_recreated_container_gets_new_engines(api, gluetun):
    check_vpn()
    old = start_engines(api, 2)
    gluetun.recreate()
    check_vpn()
    assert VpnTransition.objects.filter(kind="recreated").exists()
    assert old.isdisjoint(Engine.objects.values_list("container_id", flat=True))
    assert_serving(gluetun, 2)


def test_tunnel_drop_in_the_same_container_keeps_the_engines(api, gluetun):
    check_vpn()
    old = start_engines(api, 2)
    gluetun.set(status="stopped")
    check_vpn()
    gluetun.set(status="running")
    check_vpn()
    assert set(Engine.objects.values_list("container_id", flat=True)) == old
    assert_serving(gluetun, 2)


def test_engines_wait_for_the_tunnel_before_being_recreated(api, gluetun, orch):
    orch(GLUETUN_HEALTH_CHECK_INTERVAL_S=1)  # a pass looks again within its interval
    check_vpn()
    old = start_engines(api, 1)
    gluetun.restart()
    gluetun.set(status="stopped")
    check_vpn()
    assert set(Engine.objects.values_list("container_id", flat=True)) == old
    gluetun.set(status="running")
    check_vpn()
    assert old.isdisjoint(Engine.objects.values_list("container_id", flat=True))
    assert_serving(gluetun, 1)


def test_restart_without_recreation_leaves_the_engines(api, gluetun, orch):
    orch(VPN_RESTART_ENGINES_ON_RECONNECT=False)
    check_vpn()
    old = start_engines(api, 1)
    gluetun.restart()
    check_vpn()
    assert set(Engine.objects.values_list("container_id", flat=True)) == old


def test_a_second_pass_leaves_the_engines_to_the_one_replacing_them(api, gluetun):
    check_vpn()
    old = start_engines(api, 1)
    gluetun.restart()
    Lease.acquire(ENGINES_LEASE, "another-process", seconds=60)
    check_vpn()
    assert set(Engine.objects.values_list("container_id", flat=True)) == old
    Lease.release(ENGINES_LEASE, "another-process")
    check_vpn()
    assert old.isdisjoint(Engine.objects.values_list("container_id", flat=True))
    assert_serving(gluetun, 1)


def test_a_pass_follows_a_restarting_tunnel_and_recreates_as_soon_as_it_is_up(api, gluetun, orch):
    # A wide interval: on a loaded machine the Docker calls of the pass must not use up the
    # time it may follow the tunnel for. A pass that did not follow up would return "starting".
    orch(GLUETUN_HEALTH_CHECK_INTERVAL_S=60)
    check_vpn()
    old = start_engines(api, 1)
    gluetun.restart()
    gluetun.set(status="stopped")
    threading.Timer(1.0, gluetun.set, kwargs={"status": "running"}).start()
    state = check_vpn()  # one pass
    assert state.is_up
    assert old.isdisjoint(Engine.objects.values_list("container_id", flat=True))
    assert_serving(gluetun, 1)
