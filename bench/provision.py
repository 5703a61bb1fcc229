"""Provisioning speed: `POST /provision/acestream` until the engine answers get_status, against
`docker run` of the same image until it answers; and how fast the API itself answers.

Run: python -m bench.provision [rounds]
"""

import subprocess
import sys
import time

import httpx

from bench.common import Row, median, percentile, print_table
from tests import environment
from tests.support.images import engine_sim_image
from tests.support.live import Orchestrator, free_port

STATUS = "/server/api?api_version=3&method=get_status"


def wait_status(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}{STATUS}", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.01)
    raise RuntimeError(f"no get_status on port {port}")


def through_orchestrator(client: httpx.Client) -> tuple[float, float]:
    began = time.perf_counter()
    response = client.post("/provision/acestream", json={"labels": {}, "env": {}})
    answered = time.perf_counter() - began
    response.raise_for_status()
    body = response.json()
    wait_status(body["host_http_port"])
    ready = time.perf_counter() - began
    client.delete(f"/containers/{body['container_id']}").raise_for_status()
    return answered, ready


def raw_docker_run(image: str) -> float:
    port = free_port()
    name = f"bench-raw-{port}"
    began = time.perf_counter()
    subprocess.run(
        ["docker", "run", "-d", "--name", name, "--label", environment.TEST_ENV["CONTAINER_LABEL"],
         "-e", f"CONF=--http-port={port}\n--https-port={port + 1}\n--bind-all",
         "-p", f"127.0.0.1:{port}:{port}", image],
        check=True, capture_output=True,
    )
    wait_status(port)
    ready = time.perf_counter() - began
    subprocess.run(["docker", "rm", "-f", name], check=True, capture_output=True)
    return ready


def main(rounds: int = 20) -> list[Row]:
    image = engine_sim_image()
    answered, ready, raw = [], [], []
    with Orchestrator(env={"TARGET_IMAGE": image}, processes=("web",)) as orchestrator:
        with orchestrator.client() as client:
            through_orchestrator(client)  # warm-up: first request imports, first container
            raw_docker_run(image)
            for _ in range(rounds):
                api_answer, api_ready = through_orchestrator(client)
                answered.append(api_answer)
                ready.append(api_ready)
                raw.append(raw_docker_run(image))
    rows = [
        Row("provision until get_status, median", median(ready), median(raw), "ratio <= 1.05"),
        Row("provision until get_status, p95", percentile(ready, 95), percentile(raw, 95),
            "ratio <= 1.05"),
        Row("POST /provision/acestream answer, median", median(answered), None, "< 1 s"),
        Row("POST /provision/acestream answer, p95", percentile(answered, 95), 3.0,
            "< 1 s (acexy gives up at 3 s)"),
    ]
    print_table(f"provisioning, {rounds} rounds (baseline: docker run + wait for get_status)", rows)
    return rows


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
