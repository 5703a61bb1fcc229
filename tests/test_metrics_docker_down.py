import pytest
from prometheus_client.parser import text_string_to_metric_families

from engines import docker_gateway

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def test_a_scrape_while_docker_is_down_answers_the_last_known_state(api, fleet, monkeypatch):
    api.post("/provision/acestream", {"wait_ready": True})
    monkeypatch.setenv("DOCKER_HOST", "unix:///tmp/nope.sock")
    monkeypatch.setattr(docker_gateway, "_client", None)
    assert not docker_gateway.ping()

    response = api.get("/metrics")
    assert response.status_code == 200
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(response.content.decode())
               for s in family.samples}
    assert samples[("orch_engines", (("health", "healthy"), ("managed", "true")))] == 1
    assert samples[("orch_provision_total", (("kind", "acestream"),))] == 1
    assert samples[("orch_metrics_database_up", ())] == 1
