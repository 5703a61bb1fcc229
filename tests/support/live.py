"""The orchestrator as real processes, for socket, browser, fault and load tests.

Django's live-server fixtures are WSGI-only, so daphne, the django-q2 worker and the watcher run
as subprocesses with their own data folder (database) and this run's label and port block.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests import environment

ROOT = Path(__file__).resolve().parent.parent.parent
MANAGE = str(ROOT / "manage.py")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Orchestrator:
    """`start()` migrates a fresh database and runs web, worker and watcher; `stop()` ends them.
    `kill()` sends SIGKILL to every process at once, as a crash would."""

    def __init__(self, env: dict[str, str] | None = None, data_dir: str | None = None,
                 processes=("web", "worker", "watch")):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="live-", dir=environment.DATA_DIR)
        self.env = {**os.environ, **environment.TEST_ENV, "DATA_DIR": self.data_dir,
                    "PYTHONUNBUFFERED": "1", **(env or {})}
        self.processes = processes
        self.children: dict[str, subprocess.Popen] = {}
        self.api_key = self.env["API_KEY"]

    def manage(self, *args: str, check: bool = True, timeout: float = 120):
        return subprocess.run([sys.executable, MANAGE, *args], env=self.env, cwd=ROOT,
                              capture_output=True, text=True, check=check, timeout=timeout)

    def _log(self, name: str):
        return open(Path(self.data_dir) / f"{name}.log", "ab")

    def start(self, migrate: bool = True, timeout: float = 60) -> Orchestrator:
        if migrate:
            self.manage("migrate", "--no-input", "-v0")
            self.manage("migrate", "--database", "channels", "--no-input", "-v0")
            self.manage("setupfleet")
        argv = {
            "web": [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port),
                    "orchestrator_site.asgi:application"],
            "worker": [sys.executable, MANAGE, "qcluster"],
            "watch": [sys.executable, MANAGE, "watch"],
        }
        for name in self.processes:
            log = self._log(name)
            self.children[name] = subprocess.Popen(
                argv[name], env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.wait_http(timeout)
        return self

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
