"""Loops that must run more often than a schedule (stats and VPN every 5 s) or never stop (the
Docker events stream). They run as threads of `manage.py worker`, beside django-q2's: a schedule
that starts a looping task would pin a worker per loop and need overlapping windows handed over.
A database lease per loop keeps a second worker process from doubling the work."""

import logging
import os
import socket
import threading
import time
from collections.abc import Callable

from django.db import close_old_connections
from django.utils import timezone

from .models import JobRun, Lease

log = logging.getLogger(__name__)

HOLDER = f"{socket.gethostname()}:{os.getpid()}"


def run_every(name: str, interval: Callable[[], float], work: Callable[[], object],
              stop: threading.Event) -> None:
    """Call `work` every `interval()` seconds while this process holds the loop's lease."""
    while not stop.is_set():
        period = interval()
        began = time.monotonic()
        close_old_connections()
        try:
            if Lease.acquire(name, HOLDER, seconds=max(3 * period, 10)):
                started = timezone.now()
                try:
                    work()
                except Exception as exc:  # noqa: BLE001 - a loop must survive a bad pass
                    log.exception("%s pass failed", name)
                    JobRun.record(name, started, error=f"{exc.__class__.__name__}: {exc}")
                else:
                    JobRun.record(name, started)
        except Exception:  # noqa: BLE001 - the database may be briefly unavailable
            log.exception("%s loop could not run", name)
        stop.wait(max(0.0, period - (time.monotonic() - began)))
    Lease.release(name, HOLDER)
