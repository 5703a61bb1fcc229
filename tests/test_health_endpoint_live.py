"""With the real processes (daphne and the worker), /health turns 200 once the worker's jobs and
loops have run for the first time, and the Dockerfile's HEALTHCHECK command agrees with it."""

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.live import Orchestrator

pytestmark = [pytest.mark.live, pytest.mark.slow, pytest.mark.docker]

DOCKERFILE = Path(__file__).resolve().parent.parent / "Dockerfile"


def healthcheck_command(base_url: str) -> list[str]:
    """The image's HEALTHCHECK, aimed at this test's server instead of 127.0.0.1:8000."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    argv = json.loads(re.search(r"^HEALTHCHECK .*?CMD (\[.*\])$", text, re.MULTILINE).group(1))
    assert argv[0] == "python"
    return [sys.executable, *(arg.replace("http://127.0.0.1:8000", base_url) for arg in argv[1:])]


def test_health_turns_ok_with_the_worker_running(engine_image):
    with Orchestrator(env={"TARGET_IMAGE": engine_image}) as orchestrator:
        first = httpx.get(f"{orchestrator.base_url}/health", timeout=10)
        check = healthcheck_command(orchestrator.base_url)
        if first.status_code == 503:
            assert subprocess.run(check, capture_output=True, timeout=15).returncode == 1
        deadline = time.monotonic() + 90  # the first reconcile waits for its schedule to be due
        while time.monotonic() < deadline:
            response = httpx.get(f"{orchestrator.base_url}/health", timeout=10)
            if response.status_code == 200:
                break
            time.sleep(1)
        assert response.status_code == 200, (response.json(), orchestrator.logs("worker"))
        assert response.json()["checks"] == {
            "database": "ok", "docker": "ok", "worker": "ok", "watcher": "ok"}
        assert subprocess.run(check, capture_output=True, timeout=15).returncode == 0
