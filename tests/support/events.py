"""The Docker events listener run as a thread of the test (as `manage.py watch` runs it), and a
poll helper for "within N seconds" assertions."""

import contextlib
import threading
import time

from engines.events import listen_for_events


class Listener:
    def __init__(self):
        self.stop = threading.Event()
        self.connected = threading.Event()
        self.thread = threading.Thread(
            target=listen_for_events, args=(self.stop, self.connected), daemon=True,
            name="test-docker-events")

    def wait_connected(self, timeout: float = 10) -> None:
        assert self.connected.wait(timeout), "the events listener did not subscribe"


@contextlib.contextmanager
def listening(timeout: float = 10):
    """Run the listener until the block ends; it has subscribed (and synced) when the block starts."""
    listener = Listener()
    listener.thread.start()
    try:
        listener.wait_connected(timeout)
        yield listener
    finally:
        listener.stop.set()
        listener.thread.join(timeout=5)
        assert not listener.thread.is_alive(), "the events listener did not stop within 5 s"


def wait_for(predicate, timeout: float, interval: float = 0.02):
    """Poll until `predicate()` is truthy; returns its value, or fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


@contextlib.contextmanager
def recording_engine_gone():
    """Collect (container_id, reason) of every `engine_gone` sent during the block: what the
    streams app acts on to end the engine's streams."""
    from engines.signals import engine_gone

    received = []

    def record(sender, engine, reason, **kwargs):
        received.append((engine.container_id, reason))

    engine_gone.connect(record, weak=False)
    try:
        yield received
    finally:
        engine_gone.disconnect(record)
