"""Running background work and recording it (JobRun): django-q2's scheduled jobs, and the loops
that must run more often than a schedule (stats and VPN every 5 s) or never stop (the
Docker events stream). They run as threads of `manage.py worker`, beside django-q2's: a schedule
that starts a looping task would pin a worker per loop and need overlapping windows handed over.
A database lease per loop keeps a second worker process from doubling the work."""

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import close_old_connections
from django.utils import timezone

from .models import JobRun, Lease

log = logging.getLogger(__name__)

HOLDER = f"{socket.gethostname()}:{os.getpid()}"
T = TypeVar("T")


def run_recorded(name: str, work: Callable[[], T]) -> T:
    """Run a job (a schedule's task or one pass of a loop) and record its outcome for /health and
    /metrics; a failure is logged, recorded and raised."""
    started = timezone.now()
    try:
        result = work()
    except Exception as exc:
        log.exception("job %s failed", name)
        JobRun.record(name, started, error=f"{exc.__class__.__name__}: {exc}")
        raise
    JobRun.record(name, started)
    return result


def run_every(name: str, interval: Callable[[], float], work: Callable[[], object],
              stop: threading.Event) -> None:
    """Call `work` every `interval()` seconds (asked again before each pass, so a new value
    applies at the next tick) while this process holds the loop's lease."""
    while not stop.is_set():
        period = interval()
        began = time.monotonic()
        close_old_connections()
        try:
            if Lease.acquire(name, HOLDER, seconds=max(3 * period, 10)):
                run_recorded(name, work)
        except Exception:  # noqa: BLE001 - a loop survives a bad pass and a database hiccup
            log.warning("%s: this pass did not complete; the next one runs as planned", name)
        stop.wait(max(0.0, period - (time.monotonic() - began)))
    Lease.release(name, HOLDER)
