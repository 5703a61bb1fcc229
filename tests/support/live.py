"""The orchestrator as real processes, for socket, browser, fault and load tests.

Django's live-server fixtures are WSGI-only, so daphne and the worker (django-q2 and the loops) run
as subprocesses with their own data folder (database) and this run's label and port block.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from orchestrator_site.processes import MANAGE, web_processes, worker_command
from tests import environment
from tests.support import postgres

ROOT = Path(__file__).resolve().parent.parent.parent

DATABASE_FILES = ("orchestrator.sqlite3", "channels.sqlite3")
_template: Path | None = None


def _migrate(database: str, data_dir: Path, **env: str) -> None:
    subprocess.run([sys.executable, MANAGE, "migrate", "--database", database, "--no-input", "-v0"],
                   env={**os.environ, **environment.TEST_ENV, "DATA_DIR": str(data_dir), **env},
                   cwd=ROOT, check=True, timeout=300)


def _migrated_template() -> Path:
    """Databases migrated once per test process and copied for each orchestrator: a migrate
    costs seconds, a copy milliseconds. On PostgreSQL the SQLite file here is only the channel
    layer's; the fleet's database is copied on the server (tests/support/postgres.py)."""
    global _template
    if _template is None:
        folder = Path(tempfile.mkdtemp(prefix="template-", dir=environment.DATA_DIR))
        for database in ("channels",) if postgres.server_url() else ("default", "channels"):
            _migrate(database, folder)
        _template = folder
    return _template


_databases: dict[str, str] = {}


def _database_of(data_dir: str) -> str:
    """On PostgreSQL, the database of the orchestrator using `data_dir` (a restarted one uses
    the same folder, and so the same database)."""
    if data_dir not in _databases:
        _databases[data_dir] = postgres.live_database(
            environment.RUN_ID, lambda url: _migrate("default", Path(data_dir), DATABASE_URL=url))
    return _databases[data_dir]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Orchestrator:
    """`start()` migrates a fresh database and runs web and worker; `stop()` ends them.
    `kill()` sends SIGKILL to every process at once, as a crash would."""

    def __init__(self, env: dict[str, str] | None = None, data_dir: str | None = None,
                 processes=("web", "worker")):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="live-", dir=environment.DATA_DIR)
        self.env = {**os.environ, **environment.TEST_ENV, "DATA_DIR": self.data_dir,
                    "PYTHONUNBUFFERED": "1", **(env or {})}
        if postgres.server_url() and "DATABASE_URL" not in (env or {}):
            self.env["DATABASE_URL"] = _database_of(self.data_dir)
        self.processes = processes
        self.children: dict[str, subprocess.Popen] = {}
        self.api_key = self.env["API_KEY"]

    def manage(self, *args: str, check: bool = True, timeout: float = 120):
        return subprocess.run([sys.executable, MANAGE, *args], env=self.env, cwd=ROOT,
                              capture_output=True, text=True, check=check, timeout=timeout)

    def _log(self, name: str):
        return open(Path(self.data_dir) / f"{name}.log", "ab")

    def prepare(self, migrate: bool = True) -> None:
        """The migrated databases and the schedules, as `runorchestrator` leaves them."""
        if migrate and not (Path(self.data_dir) / DATABASE_FILES[1]).exists():
            template = _migrated_template()
            for name in DATABASE_FILES:
                if (template / name).exists():
                    shutil.copy(template / name, Path(self.data_dir) / name)
        self.manage("setupfleet")

    def start(self, migrate: bool = True, timeout: float = 60) -> Orchestrator:
        self.children = {}
        self.prepare(migrate)
        if "web" in self.processes:
            count = int(self.env.get("WEB_PROCESSES", "1"))
            for web in web_processes(sys.executable, "127.0.0.1", self.port, count):
                self._spawn(web.name, web.argv, web.pass_fds, web.env)
                web.started()
        if "worker" in self.processes:
            self.start_worker()
        self.wait_http(timeout)
        return self

    def start_worker(self) -> None:
        """The worker of an orchestrator started without it (`processes=("web",)`)."""
        self._spawn("worker", worker_command(sys.executable))

    def _spawn(self, name: str, argv: list[str], pass_fds: tuple[int, ...] = (),
               env: dict[str, str] | None = None) -> None:
        self.children[name] = subprocess.Popen(
            argv, env={**self.env, **(env or {})}, cwd=ROOT, stdout=self._log(name), stderr=subprocess.STDOUT,
            start_new_session=True, pass_fds=pass_fds,
        )

    def wait_http(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.base_url}/health", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"orchestrator did not answer on {self.base_url}: {self.logs('web')}")

    def logs(self, name: str) -> str:
        path = Path(self.data_dir) / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=kwargs.pop("timeout", 30),
                            headers={"Authorization": f"Bearer {self.api_key}"}, **kwargs)

    def kill(self) -> None:
        for child in self.children.values():
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()

    def stop(self, grace: float = 10) -> None:
        for child in self.children.values():
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in self.children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
