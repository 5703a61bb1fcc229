"""django-q2's cluster (scheduler, pusher, workers, monitor) run as threads of the worker process,
from django-q2's own functions, instead of as the six processes `manage.py qcluster` forks.

Why: each forked process holds the Django heap the fork copied, so at 100 engines the cluster
took 448 MB of RSS (75 MB per process) for work that is almost all waiting on Docker and on
engines. As threads it costs the process a few MB. What threads cannot have is django-q2's hard
task timeout (SIGALRM works only in the main thread): every job bounds its own waits instead
(Docker calls by DOCKER_TIMEOUT_S, engine checks by STARTUP_TIMEOUT_S and the health deadline).

The schedules, the ORM queue, the task results and their admin pages are django-q2's, unchanged.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from multiprocessing import Value

from django_q.monitor import monitor
from django_q.pusher import pusher
from django_q.scheduler import scheduler
from django_q.worker import worker

log = logging.getLogger(__name__)

# django-q2's cluster runs its scheduler every 30 s, so a 10 s schedule ran every 30 s; here it
# runs every 5 s, so schedules run within 5 s of when they are due.
SCHEDULER_TICK_S = 5.0

STOP = "STOP"  # django-q2's poison pill for workers and the monitor
RECYCLED = -2  # what a django-q2 worker leaves in its timer when it quits after RECYCLE tasks


class TaskThreads:
    """`start()`, then `guard()` now and then to start again a part that quit (as django-q2's
    sentinel does: its pusher quits when the database fails, its workers after RECYCLE tasks);
    `stop()` lets the workers finish the tasks already taken, saves their results and returns."""

    def __init__(self, workers: int):
        # Tasks wait in the broker rather than here: the broker hands a task out again `retry`
        # seconds after the pusher took it, run or not, so taking more than the workers can
        # start would run slow backlogs twice.
        self.tasks: queue.Queue = queue.Queue(maxsize=workers)
        self.results: queue.Queue = queue.Queue()
        self.stopping = threading.Event()
        self.timers = {f"q-worker-{number}": Value("f", -1) for number in range(1, workers + 1)}
        self.parts: dict[str, Callable[[], object]] = {
            "q-scheduler": self._schedule,
            "q-pusher": lambda: pusher(self.tasks, self.stopping),
            # -1: no SIGALRM timeout (see the module's docstring).
            **{name: self._worker(timer) for name, timer in self.timers.items()},
            "q-monitor": lambda: monitor(self.results),
        }
        self.threads: dict[str, threading.Thread] = {}

    def _worker(self, timer) -> Callable[[], object]:
        return lambda: worker(self.tasks, self.results, timer, -1)

    def _start(self, name: str) -> None:
        self.threads[name] = threading.Thread(target=self.parts[name], name=name, daemon=True)
        self.threads[name].start()

    def start(self) -> None:
        for name in self.parts:
            self._start(name)

    def guard(self) -> None:
        for name, thread in list(self.threads.items()):
            if thread.is_alive() or self.stopping.is_set():
                continue
            timer = self.timers.get(name)
            if timer is None or timer.value != RECYCLED:
                log.warning("%s quit; starting it again", name)
            if timer is not None:
                timer.value = -1
            self._start(name)

    def _schedule(self) -> None:
        while True:
            scheduler()  # logs and survives its own errors
            if self.stopping.wait(SCHEDULER_TICK_S):
                return

    def stop(self) -> None:
        """The order of django-q2's Sentinel.stop: no more tasks taken, the taken ones finished,
        then every result saved."""
        self.stopping.set()
        self.threads["q-scheduler"].join()
        self.threads["q-pusher"].join()
        workers = [self.threads[name] for name in self.timers]
        # One pill per live worker: a pill nobody takes could block on the full queue.
        for _ in range(sum(thread.is_alive() for thread in workers)):
            self.tasks.put(STOP)
        for thread in workers:
            thread.join()
        self.results.put(STOP)
        self.threads["q-monitor"].join()
