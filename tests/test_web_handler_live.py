"""The web process under daphne (orchestrator_site.http_handler): a request that waits on an
engine holds one thread, not the server, nor one of the request slots (request_slots), and every
kind of answer gets out whole."""

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.live import Orchestrator

pytestmark = [pytest.mark.live, pytest.mark.docker, pytest.mark.slow]

CHART_JS = (Path(__file__).resolve().parent.parent / "panel" / "static" / "panel" / "vendor"
            / "chartjs-4.6.1" / "chart.umd.min.js")


def test_reads_are_answered_while_provisions_wait_for_slow_engines(engine_image, fleet):
    """One request slot, two provisions waiting about 4 s each for their engine: the waits lend
    the slot, so reads still answer at once."""
    env = {"TARGET_IMAGE": engine_image, "MIN_REPLICAS": "0", "WEB_ACTIVE_REQUESTS": "1"}
    with Orchestrator(env=env, processes=("web",)) as orchestrator, orchestrator.client() as client:
        with ThreadPoolExecutor(max_workers=2) as pool:
            began = time.monotonic()
            slow = [pool.submit(client.post, "/provision/acestream",
                                json={"wait_ready": True, "env": {"SIM_START_DELAY": "4"}})
                    for _ in range(2)]
            time.sleep(0.5)
            read_times = []
            while not all(answer.done() for answer in slow):
                sent = time.monotonic()
                assert client.get("/engines").status_code == 200
                read_times.append(time.monotonic() - sent)
                time.sleep(0.1)
            answers = [answer.result() for answer in slow]
        assert [answer.status_code for answer in answers] == [200, 200], answers[0].text
        assert time.monotonic() - began >= 4
        assert len(read_times) >= 20
        assert max(read_times) < 1.0, read_times
        listed = client.get("/engines").json()
        assert sorted(engine["container_id"] for engine in listed) == sorted(
            answer.json()["container_id"] for answer in answers)


def test_static_files_json_errors_and_bodies_come_out_whole():
    with Orchestrator(processes=("web",)) as orchestrator, orchestrator.client() as client:
        static = httpx.get(f"{orchestrator.base_url}/static/panel/vendor/chartjs-4.6.1/"
                           "chart.umd.min.js", timeout=10)
        missing = client.get("/engines/no-such-engine")
        refused = client.post("/events/stream_started", content=b"{not json",
                              headers={"Content-Type": "application/json"})
        large = client.post("/events/stream_ended", content=b" " * (2 * 1024 * 1024),
                            headers={"Content-Type": "application/json"})

    assert static.status_code == 200
    assert static.content == CHART_JS.read_bytes()
    assert missing.status_code == 404 and "detail" in missing.json()
    assert refused.status_code in (400, 422) and "detail" in refused.json()
    assert large.status_code == 413 and "exceeds" in large.json()["detail"]


def test_several_web_processes_share_the_port():
    with Orchestrator(env={"WEB_PROCESSES": "2"}, processes=("web",)) as orchestrator:
        for _ in range(40):  # a new connection each time: the kernel picks a process for each
            assert httpx.get(f"{orchestrator.base_url}/vpn/status", timeout=10,
                             headers={"Authorization": f"Bearer {orchestrator.api_key}"},
                             ).status_code == 200
        served = {name: orchestrator.logs(name).count('"GET /vpn/status"')
                  for name in orchestrator.children}

    assert set(served) == {"web", "web-2"}
    assert sum(served.values()) >= 40
    assert min(served.values()) >= 5, served
