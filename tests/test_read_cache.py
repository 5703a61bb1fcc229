"""Hot read answers are reused only while the database is unchanged (core.read_cache)."""

import sqlite3
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from core import read_cache
from engines.models import Engine
from tests.conftest import sqlite_only
from tests.support.events import wait_for
from tests.support.stream_events import engine_record

pytestmark = [pytest.mark.django_db(transaction=True), sqlite_only]


class CountingBuild:
    def __init__(self, pause: float = 0.0):
        self.calls = 0
        self.pause = pause
        self.lock = threading.Lock()

    def __call__(self):
        with self.lock:
            self.calls += 1
            number = self.calls
        time.sleep(self.pause)
        return number


def write_from_another_process():
    """A commit on a connection of its own, as the worker would make."""
    other = sqlite3.connect(connection.settings_dict["NAME"])
    with other:
        other.execute("UPDATE engines_engine SET last_health_error = 'changed elsewhere'")
    other.close()


def test_an_answer_is_reused_until_any_connection_commits():
    engine_record(20001)
    build = CountingBuild()

    assert read_cache.reuse("test-key", build) == 1
    assert read_cache.reuse("test-key", build) == 1
    write_from_another_process()
    assert read_cache.reuse("test-key", build) == 2
    Engine.objects.update(last_health_error="changed by this process")
    assert read_cache.reuse("test-key", build) == 3
    assert read_cache.reuse("test-key", build) == 3


def test_nothing_is_reused_inside_a_transaction():
    build = CountingBuild()
    with transaction.atomic():
        read_cache.reuse("test-key-atomic", build)
        read_cache.reuse("test-key-atomic", build)
    assert build.calls == 2


def test_after_a_change_one_thread_builds_and_the_others_take_its_value():
    engine_record(20001)
    read_cache.reuse("test-key-herd", CountingBuild())
    write_from_another_process()
    build = CountingBuild(pause=0.3)
    answers = []

    def ask():
        answers.append(read_cache.reuse("test-key-herd", build))
        connection.close()

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert build.calls == 1
    assert answers == [1] * 8


def test_get_engines_shows_another_process_write_at_once(api):
    engine_record(20001, last_health_error="")
    assert api.get("/engines").json()[0]["last_health_error"] == ""

    write_from_another_process()

    assert api.get("/engines").json()[0]["last_health_error"] == "changed elsewhere"


def test_reused_engine_list_still_counts_idle_time_to_now(api):
    began = time.monotonic()
    engine_record(20001, idle_since=timezone.now() - timedelta(seconds=30))
    first = api.get("/engines").json()[0]["idle_seconds"]
    # The same cached read, answered later: the idle time has grown (counted to each answer).
    second = wait_for(lambda: (idle := api.get("/engines").json()[0]["idle_seconds"]) > first
                      and idle, timeout=5, interval=0.05)

    # Counted from idle_since to now: never beyond the 30 s it started with plus the time passed.
    assert 30 <= first < second <= 30 + (time.monotonic() - began) + 1
