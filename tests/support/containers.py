"""Containers the tests start on the shared Docker engine: waiting until one answers, and
removing those left by test runs whose process is gone."""

import os
import time

import docker
import docker.errors
import httpx

from tests import environment

# A deadline, not a pause: a container that answers ends the wait at once. Under the suite's
# bursts of 100 container starts on 2 cores, a simulator can take well over 15 s to listen (Docker's
# port proxy meanwhile accepts connections and closes them), so this follows the orchestrator's own
# startup deadline of the test environment.
READY_TIMEOUT_S = float(environment.TEST_ENV["STARTUP_TIMEOUT_S"])


def wait_answering(url: str, timeout: float = READY_TIMEOUT_S) -> None:
    """Poll `url` until it answers below 500; the last error is raised after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
        else:
            assert time.monotonic() < deadline, f"{url} answered 5xx for {timeout} s"
        time.sleep(0.05)


def remove_orphans(client: docker.DockerClient, label_key: str) -> None:
    """Remove containers whose `label_key` names a run (`<pid>x…`) whose process is gone.
    Listed sparse: no inspect per container, which would race with another run removing its own."""
    for container in client.containers.list(all=True, sparse=True, filters={"label": label_key}):
        pid = container.attrs.get("Labels", {}).get(label_key, "").split("x", 1)[0]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            try:
                container.remove(force=True)
            except docker.errors.APIError:  # already gone, or being removed
                pass
