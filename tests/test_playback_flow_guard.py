"""playback/flow.py relies on daphne's private structure (its ASGI send is
`partial(server.handle_reply, protocol)`, the protocol a twisted.web.http.Request) to get the
backpressure that the ASGI interface does not give under daphne. These tests fail when that changes:
the pinned daphne version, the structure in its source, and a real daphne whose client stops reading
must stop the writer with a bounded amount handed to send, and resume it when the client reads.
Then the plain Flow, and the producer flow against a stand-in request."""

import asyncio
import functools
import inspect
import json
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import daphne
import daphne.http_protocol
import daphne.server
import twisted.web.http

from playback.flow import Flow, ProducerFlow

ROOT = Path(__file__).resolve().parent.parent
CLIENT_RCVBUF = 64 * 1024


def kernel_send_buffer_max() -> int:
    """The most the kernel may hold on the server's side of a TCP connection (its send buffer grows
    up to tcp_wmem's maximum by itself); 4 MiB, Linux's default, where it cannot be read."""
    try:
        return int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    except (OSError, IndexError, ValueError):
        return 4 * 1024 * 1024


# What may have been handed to send to a client that reads nothing, with backpressure: what the
# kernel holds on both sides (the client's receive buffer is set small and doubled by Linux), plus
# Twisted's buffer (64 KiB) and the body that went over it, with room to spare. A free-running
# writer hands tens of gigabytes to send in the same time (a test without the Flow showed 76 GB in
# 15 s), and never stops.
BLOCKED_BOUND = kernel_send_buffer_max() + 2 * CLIENT_RCVBUF + 1024 * 1024


def test_daphne_is_the_pinned_version():
    pins = re.findall(r"^daphne==(\S+)", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    assert pins == [daphne.__version__], (
        f"requirements.txt pins daphne {pins}, installed {daphne.__version__}: re-check playback/flow.py "
        "against the new daphne, then update this pin")


def test_daphne_send_is_still_a_partial_of_handle_reply_on_the_protocol():
    source = inspect.getsource(daphne.server.Server.create_application)
    assert "send=partial(self.handle_reply, protocol)" in source, source


def test_daphne_requests_still_take_a_producer():
    request = daphne.http_protocol.WebRequest
    assert issubclass(request, twisted.web.http.Request)
    assert request.registerProducer is twisted.web.http.Request.registerProducer
    assert request.unregisterProducer is twisted.web.http.Request.unregisterProducer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def status(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5) as response:
        return json.loads(response.read())


def wait_until(condition, timeout: float, what: str, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)


def wait_stable(read, quiet: float, timeout: float, what: str):
    """The value of read() once it has not changed for `quiet` seconds."""
    deadline = time.monotonic() + timeout
    last, since = read(), time.monotonic()
    while time.monotonic() - since < quiet:
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} still changing after {timeout} s (now {last})")
        time.sleep(0.05)
        value = read()
        if value != last:
            last, since = value, time.monotonic()
    return last


def test_a_client_that_does_not_read_stops_the_writer_under_a_real_daphne(tmp_path):
    port = free_port()
    log = open(tmp_path / "daphne.log", "w+")
    server = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
         "tests.playback_flow_app:application"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    client = None
    try:
        def up():
            if server.poll() is not None:
                log.seek(0)
                raise AssertionError(f"daphne exited: {log.read()}")
            try:
                return status(port)
            except OSError:
                return None

        wait_until(up, 30, "daphne to answer")
        client = socket.socket()
        # A small receive window (set before connecting, so the window is negotiated with it): what
        # the kernel holds for the client is small and fixed.
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, CLIENT_RCVBUF)
        client.settimeout(10)
        client.connect(("127.0.0.1", port))
        client.sendall(b"GET /stream HTTP/1.1\r\nHost: test\r\n\r\n")
        wait_until(lambda: status(port)["sent"] > 0, 10, "the stream to start")

        # The client reads nothing: the writer must stop, with a bounded amount handed to send.
        blocked = wait_stable(lambda: status(port)["sent"], quiet=1.5, timeout=15, what="the bytes sent")
        now = status(port)
        assert now["flow"] == ProducerFlow.__name__, now
        assert now["paused"] is True, now
        assert blocked < BLOCKED_BOUND, (
            f"{blocked} bytes handed to send to a client that reads nothing (bound {BLOCKED_BOUND})")

        # Reading resumes the stream.
        received = 0
        while received < blocked + 8 * 1024 * 1024:
            data = client.recv(1 << 20)
            assert data, "the stream ended"
            received += len(data)
        wait_until(lambda: status(port)["sent"] > blocked + 4 * 1024 * 1024, 10, "the writer to resume")

        # Leaving ends it.
        client.close()
        client = None
        wait_until(lambda: status(port)["disconnects"] == 1, 10, "the disconnect")
        log.seek(0)
        assert "Producer was not unregistered" not in log.read()
    finally:
        if client is not None:
            client.close()
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def test_a_plain_send_gets_a_flow_that_is_always_writable():
    async def send(message):
        pass

    for candidate in (send, functools.partial(send), functools.partial(lambda _, message: None, object())):
        flow = Flow.for_send(candidate)
        assert type(flow) is Flow and not flow.paused
        assert flow.abort() is False
        flow.close()


class StandInRequest:
    """What ProducerFlow uses of a twisted.web.http.Request."""

    def __init__(self):
        self.producer = None
        self.channel = object()
        self.aborted = False
        self.transport = self

    def registerProducer(self, producer, streaming):
        assert streaming is True and self.producer is None
        self.producer = producer

    def unregisterProducer(self):
        self.producer = None

    def abortConnection(self):
        self.aborted = True


def test_the_producer_flow_follows_pause_resume_and_stop():
    async def scenario():
        request = StandInRequest()

        async def handle_reply(protocol, message):
            pass

        flow = Flow.for_send(functools.partial(handle_reply, request))
        assert isinstance(flow, ProducerFlow) and request.producer is flow
        await asyncio.wait_for(flow.writable(), 1)
        request.producer.pauseProducing()
        waiter = asyncio.create_task(flow.writable())
        await asyncio.sleep(0)
        assert flow.paused and not waiter.done()
        request.producer.resumeProducing()
        await asyncio.wait_for(waiter, 1)
        request.producer.pauseProducing()
        waiter = asyncio.create_task(flow.writable())
        await asyncio.sleep(0)
        request.producer.stopProducing()  # the connection is gone: the writer must not hang
        await asyncio.wait_for(waiter, 1)
        assert flow.stopped
        assert flow.abort() is True and request.aborted
        flow.close()
        flow.close()
        assert request.producer is None

    asyncio.run(scenario())
