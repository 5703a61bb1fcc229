"""Stopping and starting this machine's dockerd the way it was started (same command line, same
log file), for the fault tests; dockerd always runs again when the context ends."""

import contextlib
import os
import signal
import subprocess

import docker

from tests.support.events import wait_for


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
def dockerd_control():
    """Yields (stop, start): stop ends dockerd and waits until it is gone, start brings it back
    and waits until it answers. dockerd runs again afterwards, whatever happened."""
    pid, argv, log_path = _dockerd()

    def stop() -> None:
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not _alive(pid), timeout=60, interval=0.1)

    def start() -> None:
        _start(argv, log_path)

    try:
        yield stop, start
    finally:
        if not _alive(pid) and not _docker_answers():
            with contextlib.suppress(AssertionError):
                wait_for(_docker_answers, timeout=10, interval=0.2)  # maybe still starting
            if not _docker_answers():
                _start(argv, log_path)


@contextlib.contextmanager
def dockerd_restarter():
    """Yields a function that stops dockerd and starts it again."""
    with dockerd_control() as (stop, start):
        def restart() -> None:
            stop()
            start()

        yield restart
