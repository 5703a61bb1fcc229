"""The simulator images start, answer like the real services and obey their fault switches."""

import contextlib
import secrets
import socket
import time

import docker
import docker.errors
import pytest
import requests

from tests.support.images import engine_sim_image, gluetun_sim_image

pytestmark = pytest.mark.docker

LABELS = {"orch-test": "1"}
STATUS_PATH = "/server/api?api_version=3&method=get_status"


@pytest.fixture(scope="module")
def client():
    client = docker.from_env()
    yield client
    client.close()


@pytest.fixture
def run(client):
    """Start labelled, uniquely named containers; all are removed at teardown."""
    started = []

    def start(image, **kwargs):
        name = f"simtest-{secrets.token_hex(4)}"
        try:
            container = client.containers.run(image, name=name, labels=LABELS, detach=True, **kwargs)
        finally:
            # A failed run can still leave a created container behind.
            started.append(name)
        return container

    yield start
    for name in reversed(started):  # engines before the Gluetun they joined
        with contextlib.suppress(docker.errors.NotFound):
            client.containers.get(name).remove(force=True)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url, timeout=15.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.1)


def start_engine(run, **kwargs):
    """An engine sim on container port 40123, published on a free loopback port; its base URL."""
    host_port = free_port()
    env = {"CONF": "--http-port=40123\n--https-port=45123\n--bind-all", **kwargs.pop("environment", {})}
    container = run(
        engine_sim_image(), environment=env, ports={"40123/tcp": ("127.0.0.1", host_port)}, **kwargs
    )
    base = f"http://127.0.0.1:{host_port}"
    wait_ready(base + STATUS_PATH)
    return container, base


def test_images_are_labelled_and_reused(client):
    tag = engine_sim_image()
    assert client.images.get(tag).labels["orch-test"] == "1"
    started = time.monotonic()
    assert engine_sim_image() == tag
    assert time.monotonic() - started < 1


def test_engine_playback_stats_and_stop(run):
    container, base = start_engine(run)
    status = requests.get(base + STATUS_PATH, timeout=5)
    assert status.status_code == 200
    assert status.json() == {"result": {"status": 0, "version": "3.2.11-sim"}, "error": None}
    env = requests.get(base + "/sim/env", timeout=5).json()
    assert (env["http_port"], env["https_port"]) == (40123, 45123)

    started = requests.get(base + "/ace/getstream", params={"id": "abc", "format": "json"}, timeout=5)
    response = started.json()["response"]
    assert response["stat_url"].startswith(base + "/ace/stat/")
    assert response["is_live"] == 1
    first = requests.get(response["stat_url"], timeout=5).json()["response"]
    time.sleep(0.3)
    second = requests.get(response["stat_url"], timeout=5).json()["response"]
    assert 5 <= second["peers"] <= 40
    assert second["downloaded"] > first["downloaded"]
    assert second["playback_session_id"] == response["playback_session_id"]
    with requests.get(response["playback_url"], stream=True, timeout=5) as playback:
        assert next(playback.iter_content(188))[0] == 0x47

    stop = requests.get(response["command_url"], params={"method": "stop"}, timeout=5)
    assert stop.json() == {"response": "ok", "error": None}
    ended = requests.get(response["stat_url"], timeout=5).json()
    assert ended["response"] is None and ended["error"]

    missing = requests.get(base + "/ace/getstream", params={"format": "json"}, timeout=5).json()
    assert missing == {"response": None, "error": "missing content id"}

    began = time.monotonic()
    container.stop(timeout=10)
    assert time.monotonic() - began < 3, "SIGTERM must stop the simulator promptly"
    container.reload()
    assert container.attrs["State"]["ExitCode"] == 0


def test_engine_fault_switches(run):
    _, base = start_engine(run)

    def set_fault(mode):
        assert requests.get(base + "/sim/fault", params={"mode": mode}, timeout=5).status_code == 200

    set_fault("hang")
    with pytest.raises(requests.Timeout):
        requests.get(base + STATUS_PATH, timeout=1)
    set_fault("fail")
    assert requests.get(base + STATUS_PATH, timeout=5).status_code == 500
    set_fault("nonjson")
    page = requests.get(base + STATUS_PATH, timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"] == "text/html"
    with pytest.raises(ValueError):
        page.json()

    set_fault("ok")
    stat_url = requests.get(
        base + "/ace/getstream", params={"id": "x", "format": "json"}, timeout=5
    ).json()["response"]["stat_url"]
    set_fault("garbage_stats")
    assert requests.get(base + STATUS_PATH, timeout=5).status_code == 200
    with pytest.raises(ValueError):
        requests.get(stat_url, timeout=5).json()


def test_engine_exit_fault(run):
    container = run(engine_sim_image(), environment={"SIM_FAULT": "exit"})
    assert container.wait(timeout=15)["StatusCode"] == 1


def test_gluetun_control_and_shared_namespace(run):
    control_port, engine_port = free_port(), free_port()
    gluetun = run(
        gluetun_sim_image(),
        ports={
            "8000/tcp": ("127.0.0.1", control_port),
            "40123/tcp": ("127.0.0.1", engine_port),
        },
    )
    control = f"http://127.0.0.1:{control_port}"
    wait_ready(control + "/v1/vpn/status")
    assert requests.get(control + "/v1/vpn/status", timeout=5).json() == {"status": "running"}
    assert requests.get(control + "/v1/publicip/ip", timeout=5).json()["public_ip"] == "203.0.113.7"
    assert requests.get(control + "/v1/portforward", timeout=5).json() == {"port": 5914}

    requests.get(
        control + "/sim/set", params={"api_key": "k3y", "port": "6000"}, timeout=5
    ).raise_for_status()
    assert requests.get(control + "/v1/portforward", timeout=5).status_code == 401
    authed = requests.get(control + "/v1/portforward", headers={"X-API-Key": "k3y"}, timeout=5)
    assert authed.status_code == 200 and authed.json() == {"port": 6000}
    stopped = requests.put(
        control + "/v1/vpn/status", json={"status": "stopped"}, headers={"X-API-Key": "k3y"}, timeout=5
    )
    assert stopped.status_code == 200
    state = requests.get(control + "/sim/set", params={"api_key": "", "api_version": "old"}, timeout=5)
    assert state.json()["status"] == "stopped"
    assert requests.get(control + "/v1/portforward", timeout=5).status_code == 404
    assert requests.get(control + "/v1/openvpn/portforwarded", timeout=5).json() == {"port": 6000}

    engine = run(
        engine_sim_image(),
        environment={"CONF": "--http-port=40123\n--https-port=45123"},
        network_mode=f"container:{gluetun.name}",
    )
    wait_ready(f"http://127.0.0.1:{engine_port}{STATUS_PATH}")
    assert requests.get(f"http://127.0.0.1:{engine_port}{STATUS_PATH}", timeout=5).status_code == 200
    engine.reload()
    assert engine.status == "running"
