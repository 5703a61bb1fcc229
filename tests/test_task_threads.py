"""django-q2 as threads of the worker (orchestrator_site/task_threads.py): a due schedule becomes a
task that runs and whose result is saved; a worker that quits after django-q2's RECYCLE tasks is
replaced, so tasks keep running; tasks wait in the broker while the workers are busy; stop() ends
every thread."""

import logging
import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ, Schedule, Task
from django_q.tasks import async_task

from orchestrator_site.task_threads import TaskThreads
from tests.support.events import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def double(value):
    return value * 2


def saved_result(task_id: str) -> Task:
    return wait_for(lambda: Task.objects.filter(id=task_id).first(), timeout=15, interval=0.1)


@pytest.fixture
def running():
    threads = TaskThreads(workers=1)
    threads.start()
    yield threads
    threads.stop()
    assert not any(thread.is_alive() for thread in threads.threads.values())


def test_a_due_schedule_runs_and_its_result_is_saved(running):
    Schedule.objects.create(name="double", func="tests.test_task_threads.double", args="21",
                            schedule_type=Schedule.MINUTES, minutes=60,
                            next_run=timezone.now() - timedelta(seconds=1))
    task = saved_result(wait_for(lambda: Schedule.objects.get(name="double").task, timeout=15))
    assert (task.success, task.result) == (True, 42)
    assert Schedule.objects.get(name="double").next_run > timezone.now()


def test_a_recycled_worker_is_replaced_and_tasks_keep_running(running, monkeypatch, caplog):
    monkeypatch.setattr(Conf, "RECYCLE", 1)  # the worker quits after every task
    with caplog.at_level(logging.WARNING, logger="orchestrator_site.task_threads"):
        first = saved_result(async_task("tests.test_task_threads.double", 1))
        worker = running.threads["q-worker-1"]
        worker.join(timeout=5)
        assert not worker.is_alive()
        running.guard()
        second = saved_result(async_task("tests.test_task_threads.double", 2))
    assert (first.result, second.result) == (2, 4)
    assert running.threads["q-worker-1"] is not worker
    assert "quit" not in caplog.text  # recycling is expected, not worth a warning


def test_a_part_that_died_is_started_again_with_a_warning(running, caplog):
    running.stopping.set()  # the pusher and the scheduler see it and return
    running.threads["q-pusher"].join(timeout=5)
    running.stopping.clear()
    with caplog.at_level(logging.WARNING, logger="orchestrator_site.task_threads"):
        running.guard()
    assert "q-pusher quit; starting it again" in caplog.text
    assert running.threads["q-pusher"].is_alive()
    assert saved_result(async_task("tests.test_task_threads.double", 5)).result == 10


release = threading.Event()


def wait_for_release():
    return release.wait(timeout=30)


def test_tasks_wait_in_the_broker_while_every_worker_is_busy(running):
    """Taken tasks come back after `retry` seconds whether they ran or not, so the pusher takes no
    more than the workers can start: one running, one queued for the worker, one in the pusher's
    hand waiting for room (unbounded, it took all five)."""
    release.clear()
    blocking = async_task("tests.test_task_threads.wait_for_release")
    others = [async_task("tests.test_task_threads.double", number) for number in range(4)]
    def taken() -> int:
        return OrmQ.objects.filter(lock__gt=timezone.now()).count()

    wait_for(lambda: taken() == 3, timeout=10)
    # Watched for 2 s, four polls of the pusher (every 0.5 s): it never takes a fourth task.
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        assert taken() == 3
        time.sleep(0.1)
    release.set()
    assert saved_result(blocking).result is True
    assert [saved_result(task).result for task in others] == [0, 2, 4, 6]


def test_stop_returns_when_a_quit_worker_left_a_task_in_the_queue(running, monkeypatch):
    monkeypatch.setattr(Conf, "RECYCLE", 1)
    saved_result(async_task("tests.test_task_threads.double", 1))
    running.threads["q-worker-1"].join(timeout=5)
    left = async_task("tests.test_task_threads.double", 2)
    wait_for(lambda: OrmQ.objects.filter(lock__gt=timezone.now()).exists(), timeout=10)  # taken
    stopping = threading.Thread(target=running.stop)
    stopping.start()
    stopping.join(timeout=10)
    assert not stopping.is_alive(), "stop() blocked on the queue no worker reads"
    assert not Task.objects.filter(id=left).exists()  # handed out again after `retry`
