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


# How often a loop waiting for its next pass asks its interval again: a shorter one saved
# meanwhile (core.live_settings) applies within this, not after the old interval has run out.
INTERVAL_RECHECK_S = 0.5


def run_every(name: str, interval: Callable[[], float], work: Callable[[], object],
              stop: threading.Event) -> None:
    """Call `work` every `interval()` seconds while this process holds the loop's lease. The
    interval is asked again while waiting, so a new value applies from the next tick on."""
    while not stop.is_set():
        period = interval()
        began = time.monotonic()
        close_old_connections()
        try:
            if Lease.acquire(name, HOLDER, seconds=max(3 * period, 10)):
                run_recorded(name, work)
        except Exception:  # noqa: BLE001 - a loop survives a bad pass and a database hiccup
            log.warning("%s: this pass did not complete; the next one runs as planned", name)
        wait_for_next_pass(began, interval, stop)
    Lease.release(name, HOLDER)


def wait_for_next_pass(began: float, interval: Callable[[], float], stop: threading.Event) -> None:
    """Until `interval()` seconds after `began` (monotonic), or `stop`."""
    while True:
        left = began + interval() - time.monotonic()
        if left <= 0 or stop.wait(min(left, INTERVAL_RECHECK_S)):
            return
