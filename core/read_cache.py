"""Answers of the hot read routes, reused until the database changes.

SQLite's `PRAGMA data_version` changes whenever another connection commits to the database file.
Asked on a connection of its own, it changes on every commit of the web and worker
processes, the web's own request threads included, so an answer built at one version stays true
until the version moves (https://sqlite.org/pragma.html#pragma_data_version). A proxy therefore
reads its own writes at once, while eight clients polling `GET /engines` between two collector
passes cost one database read instead of hundreds.

Nothing is reused on PostgreSQL (it has no such counter) or inside a transaction, which may hold
writes of its own that no other connection sees yet (tests run in one).
"""

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

from django.db import connection

T = TypeVar("T")

MAX_ENTRIES = 64

_lock = threading.Lock()
_version_connections: dict[str, sqlite3.Connection] = {}
_entries: OrderedDict[tuple, tuple[int, object]] = OrderedDict()
_builders = [threading.Lock() for _ in range(16)]
_MISSING = object()


def database_version() -> tuple[str, int] | None:
    """(database file, data_version), or None where answers must not be reused."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        return None
    name = str(connection.settings_dict["NAME"])
    if connection.is_in_memory_db():
        return None
    with _lock:
        version_connection = _version_connections.get(name)
        if version_connection is None:
            version_connection = sqlite3.connect(name, check_same_thread=False)
            _version_connections[name] = version_connection
        return name, version_connection.execute("PRAGMA data_version").fetchone()[0]


def reuse(key: Hashable, build: Callable[[], T]) -> T:
    """`build()`, or its value from an earlier call if the database has not changed since.
    When it has, one thread builds and the others asking for the same key wait for its value
    instead of all reading the database at once."""
    version = database_version()
    if version is None:
        return build()
    name, number = version
    slot = (name, key)
    value = _fresh(slot, number)
    if value is not _MISSING:
        return value  # type: ignore[return-value]
    with _builders[hash(slot) % len(_builders)]:
        value = _fresh(slot, number)
        if value is not _MISSING:
            return value  # type: ignore[return-value]
        # The version was read before building, so a commit during the build only makes the
        # next request build again.
        value = build()
        with _lock:
            _entries[slot] = (number, value)
            _entries.move_to_end(slot)
            while len(_entries) > MAX_ENTRIES:
                _entries.popitem(last=False)
    return value


def _fresh(slot: tuple, number: int) -> object:
    """The stored value if it was built at this version or a later one (a connection's
    data_version only grows), else _MISSING."""
    with _lock:
        entry = _entries.get(slot)
        if entry is None or entry[0] < number:
            return _MISSING
        _entries.move_to_end(slot)
        return entry[1]
