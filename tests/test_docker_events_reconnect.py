"""The Docker daemon restarted while the listener runs: the events stream ends silently, the
listener reconnects, re-reads the fleet, and sees deaths on the new daemon within a second.

Restarts this machine's dockerd the way it was started (same command line, same log file), and
makes sure it runs again at the end whatever happens."""

import contextlib
import os
import signal
import subprocess

import docker
import pytest

from engines import health
from engines.models import Engine
from tests.support.events import listening, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _alive(pid: int) -> bool:
    """Running, not a zombie: a dockerd started by an earlier test run is reparented to an init
    that may never reap it once it exits."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _dockerd() -> tuple[int, list[str], str]:
    found = subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True, text=True).stdout
    alive = [pid for pid in map(int, found.split()) if _alive(pid)]
    assert len(alive) == 1, f"expected one running dockerd, found {alive}"
    pid = alive[0]
    with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
        argv = [part.decode() for part in cmdline.read().split(b"\0") if part]
    return pid, argv, os.readlink(f"/proc/{pid}/fd/1")


def _docker_answers() -> bool:
    with contextlib.suppress(Exception), contextlib.closing(docker.from_env(timeout=2)) as client:
        return bool(client.ping())
    return False


def _start(argv: list[str], log_path: str) -> None:
    with open(log_path, "ab") as log, open(os.devnull, "rb") as devnull:
        subprocess.Popen(argv, stdin=devnull, stdout=log, stderr=log, start_new_session=True)
    wait_for(_docker_answers, timeout=60, interval=0.2)


@contextlib.contextmanager
def dockerd_restarter():
    """Yields a function that stops dockerd and starts it again; dockerd runs again afterwards."""
    pid, argv, log_path = _dockerd()

    def restart() -> None:
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not _alive(pid), timeout=60, interval=0.1)
        _start(argv, log_path)

    try:
        yield restart
    finally:
        if not _alive(pid) and not _docker_answers():
            with contextlib.suppress(AssertionError):
                wait_for(_docker_answers, timeout=10, interval=0.2)  # maybe still starting
            if not _docker_answers():
                _start(argv, log_path)


def test_the_listener_reconnects_after_dockerd_restarts(api, fleet):
    body = api.post("/provision/acestream", {"wait_ready": True}).json()
    with dockerd_restarter() as restart, listening() as listener:
        listener.connected.clear()
        restart()
        # Reconnected to the new daemon and re-read the fleet: the engine, restarted by its
        # unless-stopped policy, is running and listed with its container and port.
        assert listener.connected.wait(15), "the listener did not reconnect"
        engine = wait_for(lambda: Engine.objects.filter(container_id=body["container_id"],
                                                        state="running").first(), timeout=5)
        assert engine.host_http_port == body["host_http_port"]
        assert health.wait_until_ready("127.0.0.1", body["host_http_port"], 10) == ""

        # The new stream works: a removal is noticed within a second.
        fleet.containers.get(body["container_id"]).remove(force=True)
        wait_for(lambda: api.get(f"/engines/{body['container_id']}").status_code == 404, timeout=1)
