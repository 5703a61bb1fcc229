"""PostgreSQL for a test run started with TEST_DATABASE_URL (scripts/test.sh runs the database
tests a second time that way, against Debian's PostgreSQL that it starts).

In-process tests use pytest-django's test database (named after the run, so concurrent runs do
not share it). Each live orchestrator gets a database of its own, copied from a template that is
migrated once per run (`CREATE DATABASE ... TEMPLATE`: milliseconds, where a migrate takes
seconds). Every database of the run is dropped when it ends; those of runs that died are dropped
at the next start.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import threading
from urllib.parse import urlsplit, urlunsplit

PREFIX = "orch_t"
_lock = threading.Lock()
_numbers = itertools.count(1)
_created: list[str] = []
_template: str | None = None


def server_url() -> str | None:
    """The run's PostgreSQL URL, or None when the run uses SQLite."""
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else None


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _admin():
    """A connection to the server's own database, for CREATE/DROP DATABASE (outside any
    transaction, as PostgreSQL requires)."""
    import psycopg

    return psycopg.connect(_with_database(server_url(), "postgres"), autocommit=True)


def database_name(run_id: str, kind: str) -> str:
    return f"{PREFIX}{run_id}_{kind}{next(_numbers)}"


def create(name: str, template: str | None = None) -> str:
    """A new database (a copy of `template` when given); its URL. Dropped at exit."""
    with _admin() as connection:
        copy = f" TEMPLATE {template}" if template else ""
        connection.execute(f'CREATE DATABASE "{name}"{copy}')
    with _lock:
        if not _created:
            atexit.register(drop_all)
        _created.append(name)
    return _with_database(server_url(), name)


def drop(name: str) -> None:
    with _admin() as connection:
        # A process killed in a test may still hold a connection for a moment.
        connection.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE datname = %s AND pid <> pg_backend_pid()", [name])
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')


def drop_all() -> None:
    with _lock:
        names, _created[:] = list(_created), []
    for name in reversed(names):
        with contextlib.suppress(Exception):
            drop(name)


def drop_orphans() -> None:
    """Databases of runs whose process is gone (killed, crashed)."""
    with _admin() as connection:
        names = [row[0] for row in connection.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", [f"{PREFIX}%"])]
    for name in names:
        pid = name[len(PREFIX):].split("x", 1)[0]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            with contextlib.suppress(Exception):
                drop(name)


def live_database(run_id: str, migrate) -> str:
    """The URL of a fresh, migrated database for one live orchestrator. `migrate(url)` migrates
    the run's template the first time."""
    global _template
    with _lock:
        template = _template
    if template is None:
        name = database_name(run_id, "template")
        migrate(create(name))
        with _lock:
            _template = template = name
    return create(database_name(run_id, "live"), template=template)
