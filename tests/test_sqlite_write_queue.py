"""Write transactions on SQLite queue for the write lock (orchestrator_site/sqlite_backend): the
next writer starts as soon as the previous one commits, threads and processes alike, and a writer
that waits too long gets "database is locked" instead of hanging."""

import subprocess
import sys
import threading
import time

import pytest
from django.db import OperationalError, connection, transaction

from orchestrator_site.models import Counter

pytestmark = pytest.mark.django_db(transaction=True)

HOLD_S = 1.0


def write(name: str) -> None:
    with transaction.atomic():
        Counter.add(name)


def test_a_waiting_thread_writes_as_soon_as_the_holder_commits():
    committing = {}

    def holder():
        with transaction.atomic():
            Counter.add("held")
            time.sleep(HOLD_S)
            committing["at"] = time.monotonic()
        connection.close()

    thread = threading.Thread(target=holder)
    thread.start()
    time.sleep(0.2)
    write("waiting")
    written_at = time.monotonic()
    thread.join()

    assert written_at >= committing["at"]
    # SQLite's own busy handler would retry only every 100 ms by then.
    assert written_at - committing["at"] < 0.05
    assert Counter.read("waiting") == {"": 1.0}


def test_a_writer_waits_for_another_process_transaction():
    lock_file = f"{connection.settings_dict['NAME']}.write-lock"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({lock_file!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('held', flush=True)\n"
        f"time.sleep({HOLD_S})\n"
    )], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    began = time.monotonic()

    write("after-other-process")

    assert time.monotonic() - began >= HOLD_S - 0.3
    assert holder.wait(timeout=10) == 0
    assert Counter.read("after-other-process") == {"": 1.0}


def test_a_writer_that_waits_too_long_is_told_the_database_is_locked():
    release = threading.Event()
    started = threading.Event()

    def holder():
        with transaction.atomic():
            Counter.add("holding")
            started.set()
            release.wait(10)
        connection.close()

    thread = threading.Thread(target=holder)
    thread.start()
    started.wait(5)
    options = connection.settings_dict["OPTIONS"]
    previous = options["timeout"]
    options["timeout"] = 0.5
    try:
        began = time.monotonic()
        with pytest.raises(OperationalError, match="database is locked"):
            write("too-late")
        assert 0.4 < time.monotonic() - began < 3
    finally:
        options["timeout"] = previous
        release.set()
        thread.join()
    write("after-release")
    assert Counter.read("after-release") == {"": 1.0}
