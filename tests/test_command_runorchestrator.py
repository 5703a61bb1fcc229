"""`manage.py runorchestrator`, the README's way to run everything: it migrates, starts
WEB_PROCESSES web processes, and the worker, and stops them all on SIGTERM."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from tests import environment
from tests.support.live import MANAGE, ROOT, free_port

pytestmark = [pytest.mark.live, pytest.mark.docker, pytest.mark.slow]


def children_of(pid: int) -> list[int]:
    found = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        found += [int(child), *children_of(int(child))]
    return found


def test_runs_every_process_and_stops_them_all_on_sigterm(engine_image):
    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="run-", dir=environment.DATA_DIR)
    env = {**os.environ, **environment.TEST_ENV, "DATA_DIR": data_dir, "WEB_PROCESSES": "2",
           "TARGET_IMAGE": engine_image}
    command = subprocess.Popen([sys.executable, MANAGE, "runorchestrator", "--host", "127.0.0.1",
                                "--port", str(port)], env=env, cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/vpn/status", timeout=2,
                                   headers={"Authorization": f"Bearer {env['API_KEY']}"})
                break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            pytest.fail("runorchestrator never answered")
        assert answer.status_code == 200
        processes = children_of(command.pid)
        commands = [Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
                    for pid in processes]
        assert sum("daphne --fd" in line for line in commands) == 2, commands
        assert sum("manage.py worker" in line for line in commands) == 1, commands
        # django-q2 runs as threads of the worker, not as processes of its own.
        assert not any("qcluster" in line for line in commands), commands

        command.send_signal(signal.SIGTERM)
        command.wait(timeout=30)
    finally:
        if command.poll() is None:
            command.kill()
    assert command.returncode == 0, command.stdout.read()
    assert not [pid for pid in processes if Path(f"/proc/{pid}").exists()]
