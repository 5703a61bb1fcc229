"""With the real processes (daphne and the worker), /health turns 200 once the worker's jobs and
loops have run for the first time, and the Dockerfile's HEALTHCHECK command agrees with it."""

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.events import wait_for
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
    orchestrator = Orchestrator(env={"TARGET_IMAGE": engine_image}, processes=("web",))
    with orchestrator:
        check = healthcheck_command(orchestrator.base_url)
        # Without the worker its jobs never run: down, and the HEALTHCHECK says so.
        assert httpx.get(f"{orchestrator.base_url}/health", timeout=10).status_code == 503
        assert subprocess.run(check, capture_output=True, timeout=15).returncode == 1

        orchestrator.start_worker()
        response = wait_for(lambda: (answer := httpx.get(
            f"{orchestrator.base_url}/health", timeout=10)).status_code == 200 and answer,
            timeout=90, interval=0.5)  # the first reconcile runs once its schedule is due
        assert response.json()["checks"] == {
            "database": "ok", "docker": "ok", "worker": "ok", "watcher": "ok", "provisioning": "ok"}
        assert subprocess.run(check, capture_output=True, timeout=15).returncode == 0
