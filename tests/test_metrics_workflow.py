"""The scrape agrees with the API after a scripted workflow: provision, stream started, stats
collected, stream ended."""

from collections import Counter as Tally

import pytest
from prometheus_client.parser import text_string_to_metric_families

from streams.collector import collect_pass
from tests.support.stream_events import acexy_started, play

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def scrape(api) -> dict[tuple[str, frozenset], float]:
    response = api.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples, name, **labels) -> float:
    return samples[(name, frozenset(labels.items()))]


def engines_by_health(api) -> Tally:
    return Tally((engine["health_status"], str(engine["managed"]).lower())
                 for engine in api.get("/engines").json())


def assert_engines_match(api, samples):
    expected = engines_by_health(api)
    for health in ("healthy", "unhealthy", "unknown"):
        for managed in ("true", "false"):
            assert value(samples, "orch_engines", health=health, managed=managed) == \
                expected[(health, managed)], (health, managed)


def test_scrape_matches_the_api_through_a_stream_lifecycle(api, fleet):
    before = scrape(api)
    assert value(before, "orch_provision_total", kind="acestream") == 0
    assert value(before, "orch_streams_active") == 0
    assert value(before, "orch_provision_duration_seconds_count") == 0

    engine = api.post("/provision/acestream", {"wait_ready": True}).json()
    port = engine["host_http_port"]
    started = api.post("/events/stream_started", acexy_started(
        play(port, "a" * 40), port, "a" * 40, labels={"stream_id": "ch-42"}))
    assert started.status_code == 200, started.content
    collect_pass()

    during = scrape(api)
    assert value(during, "orch_provision_total", kind="acestream") == 1
    assert value(during, "orch_provision_total", kind="generic") == 0
    assert value(during, "orch_events_started_total") == 1
    assert value(during, "orch_events_ended_total") == 0
    assert value(during, "orch_streams_active") == len(api.get("/streams?status=started").json()) == 1
    assert_engines_match(api, during)
    assert value(during, "orch_provision_duration_seconds_count") == 1
    assert 0 < value(during, "orch_provision_duration_seconds_sum") <= value(
        during, "orch_provision_duration_seconds_bucket", le="60.0") * 60
    assert value(during, "orch_provision_duration_seconds_bucket", le="+Inf") == 1

    latest = api.get("/streams/ch-42/stats").json()[-1]
    stream = {"stream_id": "ch-42", "engine": engine["container_name"]}
    assert value(during, "orch_stream_peers", **stream) == latest["peers"]
    assert value(during, "orch_stream_download_bytes_per_second", **stream) == \
        latest["speed_down"] * 1024
    assert value(during, "orch_stream_upload_bytes_per_second", **stream) == \
        latest["speed_up"] * 1024

    ended = api.post("/events/stream_ended", {"stream_id": "ch-42", "reason": "handler_exit"})
    assert ended.json()["updated"] is True
    api.post("/events/stream_ended", {"stream_id": "ch-42"})  # a repeat moves no counter

    after = scrape(api)
    assert value(after, "orch_events_started_total") == 1
    assert value(after, "orch_events_ended_total") == 1
    assert value(after, "orch_streams_active") == 0
    assert not [key for key in after if key[0].startswith("orch_stream_")]  # bounded to started
    assert_engines_match(api, after)
