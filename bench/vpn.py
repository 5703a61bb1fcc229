"""VPN recovery speed, with the orchestrator running as real processes (web + worker) behind the
Gluetun simulator:
- forwarded-port change → the replacement engine answers get_status with the new P2P_PORT;
- Gluetun restart → every engine recreated in the new namespace and answering get_status.

Both include the wait for the monitor's next pass (GLUETUN_HEALTH_CHECK_INTERVAL_S).

Run: python -m bench.vpn [rounds] [engines] [interval_s]
"""

import sys
import time

import docker
import httpx

from bench.common import Row, median, print_table
from tests import environment
from tests.support.gluetun import GluetunSim
from tests.support.images import engine_sim_image, gluetun_sim_image
from tests.support.live import Orchestrator

STATUS = "/server/api?api_version=3&method=get_status"
TIMEOUT_S = 60


def serving(port: int, p2p_port: int | None = None) -> bool:
    """The engine answers get_status (and, when asked, really runs with that P2P_PORT)."""
    try:
        if httpx.get(f"http://127.0.0.1:{port}{STATUS}", timeout=1).status_code != 200:
            return False
        if p2p_port is None:
            return True
        env = GluetunSim.engine_env(port)["env"]
        return env.get("P2P_PORT") == str(p2p_port)
    except httpx.HTTPError:
        return False


def wait_for(condition, what: str) -> float:
    began = time.perf_counter()
    while time.perf_counter() - began < TIMEOUT_S:
        if condition():
            return time.perf_counter() - began
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def port_change(client: httpx.Client, sim: GluetunSim, new_port: int) -> float:
    began = time.perf_counter()
    sim.set(port=str(new_port))

    def replaced():
        holders = [e for e in client.get("/engines").json() if e["p2p_port"] == new_port]
        return len(holders) == 1 and serving(holders[0]["port"], new_port)

    wait_for(replaced, f"an engine with P2P_PORT={new_port}")
    return time.perf_counter() - began


def restart(client: httpx.Client, sim: GluetunSim, count: int) -> float:
    old = {engine["container_id"] for engine in client.get("/engines").json()}
    began = time.perf_counter()
    sim.container.restart(timeout=2)

    def all_serving():
        engines = client.get("/engines").json()
        return (len(engines) == count and old.isdisjoint(e["container_id"] for e in engines)
                and all(serving(engine["port"]) for engine in engines))

    wait_for(all_serving, f"{count} recreated engines serving")
    return time.perf_counter() - began


def main(rounds: int = 3, count: int = 3, interval: int = 5) -> list[Row]:
    docker_client = docker.from_env()
    sim = GluetunSim(docker_client, gluetun_sim_image()).start()
    env = {key: str(value) for key, value in sim.config().items()}
    env.update(TARGET_IMAGE=engine_sim_image(), GLUETUN_HEALTH_CHECK_INTERVAL_S=str(interval))
    orchestrator = Orchestrator(env=env, processes=("web", "worker"))
    port_times, restart_times = [], []
    try:
        orchestrator.start()
        with orchestrator.client() as client:
            wait_for(lambda: client.get("/vpn/status").json()["health"] == "healthy", "a healthy VPN")
            for _ in range(count):
                client.post("/provision/acestream", json={"wait_ready": True}).raise_for_status()
            for number in range(rounds):
                port_times.append(port_change(client, sim, 6000 + number))
            for _ in range(rounds):
                restart_times.append(restart(client, sim, count))
    finally:
        orchestrator.stop()
        sim.remove()
        for container in docker_client.containers.list(
                all=True, filters={"label": environment.TEST_ENV["CONTAINER_LABEL"]}):
            container.remove(force=True)
    goal = f"< {interval} s check interval + 3 s"
    rows = [
        Row("port change → new holder serving, median", median(port_times), None, goal),
        Row("port change → new holder serving, max", max(port_times), None, goal),
        Row(f"Gluetun restart → {count} engines serving, median", median(restart_times), None, goal),
        Row(f"Gluetun restart → {count} engines serving, max", max(restart_times), None, goal),
    ]
    print_table(f"VPN recovery, {rounds} rounds, {count} engines, "
                f"GLUETUN_HEALTH_CHECK_INTERVAL_S={interval}", rows)
    return rows


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:4]))
