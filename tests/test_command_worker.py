"""`manage.py worker`: django-q2's parts and the fast loops in one process, which stops cleanly
and quickly on SIGTERM (Compose and runorchestrator give it 10-15 s before killing it)."""

import signal
import subprocess
import sys

import pytest

from tests.support.live import MANAGE, ROOT, Orchestrator

pytestmark = [pytest.mark.docker, pytest.mark.live]


def test_the_worker_starts_its_parts_and_stops_on_sigterm_before_docker_would_kill_it():
    orchestrator = Orchestrator(processes=())
    orchestrator.prepare()
    worker = subprocess.Popen([sys.executable, MANAGE, "worker"], env=orchestrator.env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        started = next(line for line in worker.stdout if line.startswith("working:"))
        assert started == "working: django-q2 with 4 worker threads; loops: docker-events, collector\n"
        worker.send_signal(signal.SIGTERM)
        # `docker stop` sends SIGKILL 10 s after SIGTERM: a clean exit 0 before that.
        assert worker.wait(timeout=10) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
