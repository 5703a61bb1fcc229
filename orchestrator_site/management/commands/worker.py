import gc
import logging
import signal
import threading
import time

from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections

from core import peers
from core.config import conf
from core.loops import run_every
from engines.events import listen_for_events
from orchestrator_site.task_threads import TaskThreads
from streams.collector import paced_pass
from vpn.monitor import check_vpn

log = logging.getLogger(__name__)


def fast_loops(stop: threading.Event) -> list[threading.Thread]:
    """The loops that run more often than a schedule, or never stop (core.loops), not started."""
    loops = [
        threading.Thread(target=listen_for_events, args=(stop,), name="docker-events"),
        threading.Thread(
            target=run_every, name="collector",
            args=("collector", lambda: conf().COLLECT_INTERVAL_S, paced_pass, stop)),
    ]
    if conf().vpn_enabled:
        loops.append(threading.Thread(
            target=run_every, name="vpn",
            args=("vpn", lambda: conf().GLUETUN_HEALTH_CHECK_INTERVAL_S, check_vpn, stop)))
    return loops


class Command(BaseCommand):
    help = ("Run the background work: django-q2's schedules and tasks (reconcile, health, cleanup, "
            "pruning, first checks) and the fast loops (Docker events, stats and VPN every 5 s).")

    def handle(self, *args, **options):
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        loops = fast_loops(stop)
        tasks = TaskThreads(conf().Q_WORKERS)
        # What start-up built lives as long as the process: frozen, full collections skip it.
        gc.freeze()
        for thread in loops:
            thread.start()
        tasks.start()
        self.stdout.write(f"working: django-q2 with {len(tasks.timers)} worker threads; "
                          f"loops: {', '.join(thread.name for thread in loops)}")
        next_heartbeat = 0.0
        while not stop.wait(1):  # in slices: the signal handlers run in this thread
            tasks.guard()
            if time.monotonic() >= next_heartbeat:
                next_heartbeat = time.monotonic() + peers.HEARTBEAT_S
                heartbeat()
        tasks.stop()
        for thread in loops:
            thread.join()


def heartbeat() -> None:
    close_old_connections()  # one broken by a database outage is replaced, not reused
    try:
        peers.heartbeat()
    except DatabaseError as exc:  # the database's outage is told by /health; the loop goes on
        log.warning("could not announce this orchestrator: %s", exc)
