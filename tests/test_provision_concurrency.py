from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.support.live import Orchestrator

pytestmark = [pytest.mark.docker, pytest.mark.live, pytest.mark.slow]


def test_51_concurrent_provisions_with_max_50_give_50_engines_on_distinct_ports(fleet, engine_image,
                                                                                settings):
    orchestrator = Orchestrator(env={"TARGET_IMAGE": engine_image, "MAX_REPLICAS": "50"},
                                processes=("web",))
    with orchestrator:
        def provision(_):
            with orchestrator.client(timeout=60) as client:
                return client.post("/provision/acestream", json={"labels": {}, "env": {}})

        with ThreadPoolExecutor(max_workers=51) as pool:
            responses = list(pool.map(provision, range(51)))
        codes = sorted(response.status_code for response in responses)
        assert codes.count(200) == 50, [r.text for r in responses if r.status_code != 200]
        assert codes.count(503) == 1
        refused = next(r for r in responses if r.status_code == 503)
        assert "maximum" in refused.json()["detail"]

        bodies = [r.json() for r in responses if r.status_code == 200]
        assert len({b["host_http_port"] for b in bodies}) == 50
        assert len({b["container_https_port"] for b in bodies}) == 50
        assert len({b["container_name"] for b in bodies}) == 50
        running = fleet.containers.list(filters={"label": settings.ORCH.CONTAINER_LABEL})
        assert len(running) == 50
        with orchestrator.client() as client:
            assert len(client.get("/engines").json()) == 50
        # Every engine really serves on the port it was given.
        for body in bodies[:5]:
            url = f"http://127.0.0.1:{body['host_http_port']}/server/api?api_version=3&method=get_status"
            for _ in range(50):
                try:
                    assert httpx.get(url, timeout=2).status_code == 200
                    break
                except httpx.HTTPError:
                    import time
                    time.sleep(0.1)
            else:
                pytest.fail(f"engine on {body['host_http_port']} never answered")
