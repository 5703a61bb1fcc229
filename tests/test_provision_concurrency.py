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


@pytest.mark.parametrize("requests, cap", [(51, 50), (50, 40)])
def test_concurrent_provisions_never_exceed_the_cap_nor_share_a_port(fleet, engine_image, settings,
                                                                     requests, cap):
    orchestrator = Orchestrator(env={"TARGET_IMAGE": engine_image, "MAX_REPLICAS": str(cap)},
                                processes=("web",))
    label = {"label": settings.ORCH.CONTAINER_LABEL}
    with orchestrator:
        def provision(_):
            with orchestrator.client(timeout=90) as client:
                return client.post("/provision/acestream", json={"labels": {}, "env": {}})

        with ThreadPoolExecutor(max_workers=requests) as pool:
            responses = list(pool.map(provision, range(requests)))
        codes = [response.status_code for response in responses]
        assert codes.count(200) == cap, [r.text for r in responses if r.status_code != 200]
        assert codes.count(503) == requests - cap
        for refused in (r for r in responses if r.status_code == 503):
            assert refused.json()["detail"]["code"] == "max_capacity"

        bodies = [r.json() for r in responses if r.status_code == 200]
        assert len({b["host_http_port"] for b in bodies}) == cap
        assert len({b["container_https_port"] for b in bodies}) == cap
        assert len({b["container_name"] for b in bodies}) == cap
        assert len(fleet.containers.list(filters=label)) == cap
        with orchestrator.client() as client:
            assert len(client.get("/engines").json()) == cap
            assert all(_answers_get_status(b["host_http_port"]) for b in bodies[:5])
            # Cleaning up through the API leaves no container and no reserved port behind.
            for body in bodies:
                assert client.delete(f"/containers/{body['container_id']}").status_code == 200
            assert client.get("/engines").json() == []
    assert fleet.containers.list(all=True, filters=label) == []
