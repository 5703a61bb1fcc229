"""A stat URL answering garbage, HTML, a 500, nothing or refusing counts as a collector error and
touches no other stream; a hung engine costs the pass one timeout and delays no other engine."""

import socket
import time
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from core.models import Counter
from streams.collector import collect_pass
from streams.models import StatSnapshot, Stream
from tests.support.stream_events import fake_started, provision, start_streams

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def set_fault(port: int, mode: str) -> None:
    assert httpx.get(f"http://127.0.0.1:{port}/sim/fault", params={"mode": mode}).status_code == 200


def collector_errors() -> float:
    return Counter.read("orch_collector_errors_total").get("", 0)


def snapshot_count(ids) -> int:
    return StatSnapshot.objects.filter(stream_id__in=ids).count()


@pytest.mark.parametrize("mode", ["garbage_stats", "nonjson", "fail"])
def test_bad_answers_are_counted_and_touch_nothing_else(api, fleet, mode):
    bad_port = provision(api)["host_http_port"]
    good_port = provision(api)["host_http_port"]
    bad = start_streams(api, bad_port, 2)
    good = start_streams(api, good_port, 2)
    set_fault(bad_port, mode)

    summary = collect_pass()

    assert (summary.errors, summary.stored, summary.ended) == (2, 2, 0)
    assert collector_errors() == 2
    assert snapshot_count(bad) == 0
    assert snapshot_count(good) == 2
    assert Stream.objects.started().count() == 4
    assert Stream.objects.get(pk=bad[0]).collector_errors == 1
    assert Stream.objects.get(pk=good[0]).collector_errors == 0


def test_engine_that_refuses_connections(api, fleet):
    """An external engine whose address answers nothing at all."""
    good_port = provision(api)["host_http_port"]
    good = start_streams(api, good_port, 1)
    with socket.socket() as sock:  # a port nothing listens on: bound, then freed
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    assert api.post("/events/stream_started", fake_started(closed_port)).status_code == 200

    summary = collect_pass()

    assert (summary.errors, summary.stored) == (1, 1)
    assert snapshot_count(good) == 1
    assert Stream.objects.get(pk="k1|s1").status == "started"


def test_hung_engine_costs_one_timeout_and_delays_no_other(api, fleet, orch):
    # 3 s: one timeout stands apart from the two or more that asking the hung engine's ten
    # streams in turn would take, by more than a loaded machine adds to a pass.
    orch(COLLECT_TIMEOUT_S=3.0)
    hung_port = provision(api)["host_http_port"]
    good_port = provision(api)["host_http_port"]
    hung = start_streams(api, hung_port, 10)  # more than the per-engine request slots
    good = start_streams(api, good_port, 5)
    set_fault(hung_port, "hang")
    try:
        began = time.monotonic()
        summary = collect_pass()
        elapsed = time.monotonic() - began
    finally:
        set_fault(hung_port, "ok")

    assert 3.0 <= elapsed < 6.0, elapsed
    assert (summary.errors, summary.stored) == (10, 5)
    assert snapshot_count(good) == 5
    assert snapshot_count(hung) == 0
    assert Stream.objects.started().count() == 15


def test_streams_without_readable_stats_for_the_give_up_time_end(api, fleet, orch):
    """A hung engine never says a session is gone: its streams end once their stats have been
    unreadable for COLLECT_GIVE_UP_S, so it can be replaced or cleaned up."""
    orch(COLLECT_GIVE_UP_S=30)
    bad_port = provision(api)["host_http_port"]
    good_port = provision(api)["host_http_port"]
    silent, recently_read, just_started = start_streams(api, bad_port, 3)
    good = start_streams(api, good_port, 1)
    long_ago = timezone.now() - timedelta(seconds=60)
    Stream.objects.filter(pk__in=[silent, recently_read, *good]).update(started_at=long_ago)
    StatSnapshot.objects.create(stream_id=silent, ts=long_ago)
    StatSnapshot.objects.create(stream_id=recently_read, ts=timezone.now() - timedelta(seconds=10))
    set_fault(bad_port, "garbage_stats")

    summary = collect_pass()

    assert (summary.errors, summary.ended) == (3, 1)
    stream = Stream.objects.get(pk=silent)
    assert (stream.status, stream.ended_reason) == ("ended", "stats_unreachable")
    assert Stream.objects.started().count() == 4 - 1
