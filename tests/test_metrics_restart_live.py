"""A real scrape over HTTP from daphne passes promtool, and the counters survive a restart of the
orchestrator (they live in the database, not in the process)."""

import shutil
import subprocess

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.live import Orchestrator

pytestmark = [pytest.mark.live, pytest.mark.slow, pytest.mark.docker]


def samples(text: str) -> dict:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_counters_survive_a_restart_and_the_scrape_passes_promtool(fleet, engine_image):
    orchestrator = Orchestrator(env={"TARGET_IMAGE": engine_image}, processes=("web",)).start()
    try:
        with orchestrator.client() as client:
            assert client.post("/provision/acestream", json={}).status_code == 200
            scrape = client.get("/metrics")
    finally:
        orchestrator.stop()
    assert scrape.status_code == 200
    assert samples(scrape.text)[("orch_provision_total", (("kind", "acestream"),))] == 1
    if shutil.which("promtool"):
        result = subprocess.run(["promtool", "check", "metrics"], input=scrape.content,
                                capture_output=True, timeout=30)
        assert result.returncode == 0, (result.stdout + result.stderr).decode()

    again = Orchestrator(env={"TARGET_IMAGE": engine_image}, data_dir=orchestrator.data_dir,
                         processes=("web",)).start(migrate=False)
    try:
        with again.client() as client:
            after = samples(client.get("/metrics").text)
    finally:
        again.stop()
    assert after[("orch_provision_total", (("kind", "acestream"),))] == 1
    assert after[("orch_provision_duration_seconds_count", ())] == 1
    assert after[("orch_engines", (("health", "unknown"), ("managed", "true")))] + after[
        ("orch_engines", (("health", "healthy"), ("managed", "true")))] == 1
