"""Containers left on the shared Docker engine by test runs whose process is gone."""

import os

import docker
import docker.errors


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
