"""How many requests of one web process run Python code at the same time.

The web answers on a pool of WEB_THREADS threads, so that requests waiting on Docker or on an
engine (a provision with `wait_ready` waits up to STARTUP_TIMEOUT_S) never hold up the others.
But Python runs one thread at a time, and when 32 threads are all busy with stream events, the
one holding the database's write lock waits its turn behind the 31 others at every statement:
with two web processes, 163 events a second were answered with 32 running threads and 199 with 4.

So a request takes one of WEB_ACTIVE_REQUESTS slots while it runs, and gives it back while it
waits on another program (`waiting_elsewhere`, around Docker calls and engine and Gluetun
requests). Outside the web's request threads (worker, commands) `waiting_elsewhere`
does nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_current = threading.local()


class RequestSlots:
    def __init__(self, count: int):
        self._free = threading.Semaphore(count)

    @contextmanager
    def held(self) -> Iterator[None]:
        """Run the body in a slot: one request on this thread, start to end."""
        self._free.acquire()
        _current.slots = self
        try:
            yield
        finally:
            _current.slots = None
            self._free.release()

    @contextmanager
    def lent(self) -> Iterator[None]:
        """The slot of this thread's request goes to another request during the body."""
        _current.slots = None
        self._free.release()
        try:
            yield
        finally:
            self._free.acquire()
            _current.slots = self


@contextmanager
def waiting_elsewhere() -> Iterator[None]:
    """Around a wait on Docker, an engine or Gluetun: another request runs in this slot meanwhile.
    Never around a wait inside a database transaction (none calls out; see streams/services.py),
    which would make the transaction wait for a slot."""
    slots: RequestSlots | None = getattr(_current, "slots", None)
    if slots is None:
        yield
        return
    with slots.lent():
        yield
