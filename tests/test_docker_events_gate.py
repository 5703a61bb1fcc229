"""The events listener tells the gate Docker answers each time it (re)connects, whatever it last
saw itself: a web process may have recorded an outage (a failed Docker call) that this listener,
between two pings, never saw, and provisioning would stay blocked until the next reconcile pass."""

import threading

import pytest

from engines import docker_gateway, gate
from engines.models import Fleet
from tests.support.events import listening

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


class FirstStreamEndsOnCue:
    """The first events stream ends when the test says so (as dockerd restarting quickly ends
    it); the next ones are Docker's."""

    def __init__(self, real):
        self.real = real
        self.end = threading.Event()
        self.calls = 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self if self.calls == 1 else self.real(*args, **kwargs)

    def __iter__(self):
        self.end.wait()
        return iter(())

    def close(self):
        self.end.set()


def test_an_outage_recorded_elsewhere_is_cleared_when_the_listener_reconnects(monkeypatch, fleet):
    streams = FirstStreamEndsOnCue(docker_gateway.event_stream)
    monkeypatch.setattr(docker_gateway, "event_stream", streams)
    with listening() as listener:
        assert Fleet.stored().docker_reachable
        gate.record_docker(False, "Docker unavailable: ConnectionError")  # as a web request would
        listener.connected.clear()
        streams.end.set()
        listener.wait_connected()
        assert streams.calls == 2
        assert Fleet.stored().docker_reachable, "provisioning stays blocked although Docker answers"
