"""A Redis server of the test module's own (Debian's redis-server, on a free loopback port), for
the channel layer that crosses processes and hosts. Modules load it with
`pytest_plugins = ["tests.support.redis"]`."""

import shutil
import subprocess

import pytest

from tests.support.events import wait_for


@pytest.fixture(scope="module")
def redis_url():
    from tests.support.live import free_port

    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: _answers(port), timeout=10, interval=0.05)
    yield f"redis://127.0.0.1:{port}/0"
    server.terminate()
    server.wait(timeout=10)


def _answers(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False
