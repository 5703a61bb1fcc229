"""A Gluetun simulator container for VPN tests and the VPN benchmark, and the `vpn` fixture.

It publishes its control port and a small engine port range, both taken from the top of this
run's host port block, on 127.0.0.1. Its label is not the run's engine label, so the orchestrator
never adopts it as an engine; `remove()` takes it away (with the engines that joined it), and
containers of dead runs are removed at the next start.

Test modules load the fixture with `pytest_plugins = ["tests.support.gluetun"]` (and do not import
this module themselves, so pytest can still rewrite its asserts).
"""

from __future__ import annotations

import contextlib

import docker
import docker.errors
import httpx
import pytest

from core.config import PortRange
from tests import environment
from tests.support.containers import remove_orphans, wait_answering

LABEL_KEY = "orchestrator.test.gluetun"
ENGINE_PORTS = 20  # engine ports published on Gluetun: 10 engines, HTTP and HTTPS each


def _plan() -> tuple[int, PortRange]:
    """Control port and engine range at the top of this run's block."""
    top = environment.HOST_PORTS[1]
    return top - ENGINE_PORTS, PortRange(top - ENGINE_PORTS + 1, top)


class GluetunSim:
    def __init__(self, client: docker.DockerClient, image: str, env: dict[str, str] | None = None):
        self.client = client
        self.image = image
        self.env = env or {}
        self.name = f"t{environment.RUN_ID}-gluetun"
        self.control_port, self.engine_ports = _plan()
        self.url = f"http://127.0.0.1:{self.control_port}"
        self.container = None

    def start(self) -> GluetunSim:
        """Run it (replacing a container of the same name) and wait for its control server."""
        remove_orphans(self.client, LABEL_KEY)
        with contextlib.suppress(docker.errors.NotFound):
            self.client.containers.get(self.name).remove(force=True)
        published = {"8000/tcp": ("127.0.0.1", self.control_port)}
        published.update({f"{port}/tcp": ("127.0.0.1", port) for port in self.engine_ports})
        self.container = self.client.containers.run(
            self.image, name=self.name, detach=True, environment=self.env, ports=published,
            labels={LABEL_KEY: environment.RUN_ID}, restart_policy={"Name": "unless-stopped"},
        )
        self.wait_ready()
        return self

    def wait_ready(self) -> None:
        wait_answering(f"{self.url}/sim/state")

    def set(self, **changes) -> dict:
        """Change the simulated state: status, public_ip, port, api_key, api_version."""
        response = httpx.get(f"{self.url}/sim/set", params=changes, timeout=5)
        response.raise_for_status()
        return response.json()

    def restart(self) -> None:
        self.container.restart(timeout=2)
        self.wait_ready()

    def recreate(self) -> None:
        """A new container under the same name, as `docker compose up` after a change does."""
        self.container.remove(force=True)
        self.start()

    def remove(self) -> None:
        """The engines that joined its namespace, then the simulator."""
        if self.container is None:
            return
        # The summary list, not containers.list(): that inspects every container on the host, and
        # other runs remove theirs meanwhile.
        for summary in self.client.api.containers(all=True):
            if summary.get("HostConfig", {}).get("NetworkMode") == f"container:{self.container.id}":
                with contextlib.suppress(docker.errors.NotFound):
                    self.client.api.remove_container(summary["Id"], force=True)
        with contextlib.suppress(docker.errors.NotFound):
            self.container.remove(force=True)

    @staticmethod
    def engine_env(host_port: int) -> dict:
        """What an engine simulator reached through Gluetun says about itself (env, ports)."""
        return httpx.get(f"http://127.0.0.1:{host_port}/sim/env", timeout=5).json()

    def config(self) -> dict:
        """Settings that put the orchestrator behind this simulator."""
        return {
            "GLUETUN_CONTAINER_NAME": self.name,
            "GLUETUN_API_URL": self.url,
            "PORT_RANGE_HOST": self.engine_ports,
        }


@pytest.fixture
def gluetun(fleet, gluetun_image, orch):
    """A running Gluetun simulator with the orchestrator configured behind it; the monitor has
    not run yet. Engines of the test are removed before the simulator."""
    sim = GluetunSim(fleet, gluetun_image).start()
    orch(**sim.config())
    yield sim
    sim.remove()
