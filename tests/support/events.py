"""The Docker events listener run as a thread of the test (as `manage.py worker` runs it), a poll
helper for "within N seconds" assertions, and a started stream to watch end."""

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


# How long a test gives the events listener to act on a Docker event. A deadline, not the goal:
# the listener acts within a fraction of a second (bench/health.py measures it); a loaded 2-core
# machine running two suites side by side can delay Docker's event by seconds. The tests that
# use it run no health loop, so only the listener can have noticed.
EVENT_DEADLINE_S = 15


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


def started_stream(container_id: str, stream_id: str = "ch-1"):
    """A started stream on the engine, as `stream_started` records it."""
    from engines.models import Engine
    from streams.models import Stream

    engine = Engine.objects.get(container_id=container_id)
    return Stream.objects.create(id=stream_id, key_type="infohash", key="0a48", engine=engine,
                                 container_id=container_id, status="started")
