"""SQLite whose write transactions queue for the write lock instead of polling for it.

A connection that finds SQLite's write lock taken sleeps and retries (1, 2, 5 … then 100 ms at a
time), so under load the lock often sat free while every waiter slept: at 100 stream events a
second the slowest answers took 3.5 s, and two web processes together answered no more than one.
Here a write transaction first takes a lock of its process (threads queue on it), then an
exclusive `flock` on a file beside the database (processes queue on it), and only then SQLite's
`BEGIN IMMEDIATE`, which then finds the database free. Statements outside a transaction still meet
SQLite's own lock, briefly. Query metrics come from django-prometheus' backend, as before.
"""

from __future__ import annotations

import fcntl
import functools
import os
import threading
import time

from django.db import OperationalError
from django_prometheus.db.backends.sqlite3.base import DatabaseWrapper as PrometheusSQLite
from django_prometheus.db.common import ExportingCursorWrapper

_thread_lock = threading.Lock()
_lock_files: dict[str, int] = {}
# How often a process waiting for another process's transaction looks again: short, since only
# one thread per process waits here.
_POLL_S = 0.0005


def _lock_file(database: str) -> int:
    if database not in _lock_files:
        _lock_files[database] = os.open(f"{database}.write-lock", os.O_RDWR | os.O_CREAT, 0o600)
    return _lock_files[database]


def _reset_after_fork() -> None:
    """Our processes do not fork, but django-q2's own `qcluster` does: a child must not share the
    parent's lock file description (an flock belongs to it, so both would hold the lock) nor
    inherit a thread lock held by a thread that does not exist in the child."""
    global _thread_lock
    _thread_lock = threading.Lock()
    _lock_files.clear()


os.register_at_fork(after_in_child=_reset_after_fork)


# django-prometheus builds a new cursor class for every cursor; one per database is enough, and a
# class statement per SQL statement cost about 4 % of a stream event's CPU.
_cursor_class = functools.cache(ExportingCursorWrapper)


class DatabaseWrapper(PrometheusSQLite):
    _write_lock_file: int | None = None

    def create_cursor(self, name=None):
        return self.connection.cursor(
            factory=_cursor_class(self.CURSOR_CLASS, self.alias, self.vendor))

    def _start_transaction_under_autocommit(self):
        self._take_write_lock()
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release_write_lock()
            raise

    def _take_write_lock(self):
        timeout = self.settings_dict["OPTIONS"].get("timeout", 5)
        deadline = time.monotonic() + timeout
        if not _thread_lock.acquire(timeout=timeout):
            raise OperationalError(f"database is locked: waited {timeout} s for this process")
        if self.is_in_memory_db():
            self._write_lock_file = -1
            return
        descriptor = _lock_file(str(self.settings_dict["NAME"]))
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    _thread_lock.release()
                    raise OperationalError(
                        f"database is locked: waited {timeout} s for another process") from None
                time.sleep(_POLL_S)
        self._write_lock_file = descriptor

    def _release_write_lock(self):
        descriptor, self._write_lock_file = self._write_lock_file, None
        if descriptor is None:
            return
        if descriptor >= 0:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
        _thread_lock.release()

    def _commit(self):
        try:
            super()._commit()
        finally:
            self._release_write_lock()

    def _rollback(self):
        try:
            super()._rollback()
        finally:
            self._release_write_lock()

    def _close(self):
        try:
            super()._close()
        finally:
            self._release_write_lock()
