import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.support.live import Orchestrator

pytestmark = [pytest.mark.docker, pytest.mark.live, pytest.mark.slow]

STATUS = "/server/api?api_version=3&method=get_status"


def _answers_get_status(port: int) -> bool:
    for _ in range(100):
        try:
            return httpx.get(f"http://127.0.0.1:{port}{STATUS}", timeout=2).status_code == 200
        except httpx.HTTPError:
            time.sleep(0.1)
    return False


# The run's database (the default SQLite file, or PostgreSQL in the PostgreSQL run), and a
# sqlite:// URL, which must get the same engine and options as the default file.
@pytest.mark.parametrize("requests, cap, database", [
    (10, 50, "url"), (30, 50, "run"), (51, 50, "run"), (51, 50, "url"), (50, 40, "run")])
def test_concurrent_provisions_never_exceed_the_cap_nor_share_a_port(fleet, engine_image, settings,
                                                                     requests, cap, database):
    orchestrator = Orchestrator(env={"TARGET_IMAGE": engine_image, "MAX_REPLICAS": str(cap)},
                                processes=("web",))
    if database == "url":
        orchestrator.env["DATABASE_URL"] = f"sqlite:///{orchestrator.data_dir}/fleet.sqlite3"
        orchestrator.manage("migrate", "--no-input", "-v0")
    label = {"label": settings.ORCH.CONTAINER_LABEL}
    with orchestrator:
        def provision(_):
            with orchestrator.client(timeout=90) as client:
                return client.post("/provision/acestream", json={"labels": {}, "env": {}})

        with ThreadPoolExecutor(max_workers=requests) as pool:
            responses = list(pool.map(provision, range(requests)))
        started = min(cap, requests)
        codes = [response.status_code for response in responses]
        assert codes.count(200) == started, [r.text for r in responses if r.status_code != 200]
        assert codes.count(503) == requests - started
        for refused in (r for r in responses if r.status_code == 503):
            assert refused.json()["detail"]["code"] == "max_capacity"

        bodies = [r.json() for r in responses if r.status_code == 200]
        assert len({b["host_http_port"] for b in bodies}) == started
        assert len({b["container_https_port"] for b in bodies}) == started
        assert len({b["container_name"] for b in bodies}) == started
        running = fleet.containers.list(filters=label)
        assert len(running) == started, sorted((c.name, c.status, c.attrs["Created"]) for c in running)
        with orchestrator.client() as client:
            assert len(client.get("/engines").json()) == started
            assert all(_answers_get_status(b["host_http_port"]) for b in bodies[:5])
            # Cleaning up through the API leaves no container and no reserved port behind.
            for body in bodies:
                assert client.delete(f"/containers/{body['container_id']}").status_code == 200
            assert client.get("/engines").json() == []
    assert fleet.containers.list(all=True, filters=label) == []
