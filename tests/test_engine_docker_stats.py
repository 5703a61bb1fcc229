"""GET /engines/{id}/stats and /engines/stats/total: one `docker stats` sample per engine, asked
at once, bounded by a deadline."""

import time

import pytest

from tests.support.stream_events import engine_record, provision

pytestmark = [pytest.mark.docker, pytest.mark.django_db]

INT_FIELDS = ("memory_usage", "memory_limit", "network_rx_bytes", "network_tx_bytes",
              "block_read_bytes", "block_write_bytes")


def test_one_engine(api, fleet):
    engine = provision(api)
    for ref in (engine["container_id"], engine["container_name"]):
        body = api.get(f"/engines/{ref}/stats").json()
        assert body["container_id"] == engine["container_id"]
        assert all(type(body[name]) is int for name in INT_FIELDS)
        assert isinstance(body["cpu_percent"], float) and isinstance(body["memory_percent"], float)
        assert 0 < body["memory_usage"] <= body["memory_limit"]
    assert api.get("/engines/no-such-engine/stats").status_code == 404


def test_total_asks_every_engine_at_once(api, fleet):
    engines = [provision(api) for _ in range(3)]
    began = time.monotonic()
    total = api.get("/engines/stats/total").json()
    seconds = time.monotonic() - began
    assert total["container_count"] == 3 and total["missing"] == []
    singles = [api.get(f"/engines/{e['container_id']}/stats").json()["memory_limit"] for e in engines]
    assert total["total_memory_usage"] > 0
    assert seconds < 5.5 and len(singles) == 3, "bounded by the deadline, not one call after another"


def test_an_external_engine_has_no_container(api):
    engine_record(20005, name="external-1", managed=False)
    response = api.get("/engines/external-1/stats")
    assert response.status_code == 409 and "no container" in response.json()["detail"]
