"""A collection pass against simulator engines: snapshots stored, history trimmed, streams ended
when their engine says the session is gone."""

import httpx
import pytest

from core.models import Counter
from engines.models import Engine
from streams.collector import collect_pass
from streams.models import StatSnapshot, Stream
from tests.support.stream_events import provision, start_streams

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def test_pass_stores_one_snapshot_per_started_stream(api, fleet):
    port = provision(api)["host_http_port"]
    ids = start_streams(api, port, 3)
    api.post("/events/stream_ended", {"stream_id": ids[2]})

    summary = collect_pass()

    assert (summary.streams, summary.stored, summary.errors, summary.ended) == (2, 2, 0, 0)
    for stream_id in ids[:2]:
        rows = api.get(f"/streams/{stream_id}/stats").json()
        assert len(rows) == 1
        assert rows[0]["status"] == "dl"
        assert 5 <= rows[0]["peers"] <= 40
        assert rows[0]["speed_down"] > 0 and rows[0]["downloaded"] >= 0
    assert not StatSnapshot.objects.filter(stream_id=ids[2]).exists()
    assert api.get("/streams?status=started").json()[0]["latest_stats"]["status"] == "dl"


def test_history_keeps_the_newest_stats_history_max(api, fleet, orch):
    orch(STATS_HISTORY_MAX=3)
    port = provision(api)["host_http_port"]
    ids = start_streams(api, port, 2)
    passes = [collect_pass() for _ in range(5)]

    assert [p.trimmed for p in passes] == [0, 0, 0, 2, 2]
    for stream_id in ids:
        kept = list(StatSnapshot.objects.filter(stream_id=stream_id).order_by("pk"))
        assert len(kept) == 3
        assert [s.ts for s in kept] == sorted(s.ts for s in kept)
    newest_pass = StatSnapshot.objects.order_by("-pk").first().ts
    assert StatSnapshot.objects.filter(ts=newest_pass).count() == 2



def test_lowering_the_history_limit_trims_the_excess_at_once(api, fleet, orch):
    orch(STATS_HISTORY_MAX=5)
    port = provision(api)["host_http_port"]
    ids = start_streams(api, port, 2)
    for _ in range(4):
        collect_pass()
    orch(STATS_HISTORY_MAX=2)

    assert collect_pass().trimmed == 2 * 3
    newest = list(StatSnapshot.objects.order_by("-pk").values_list("pk", flat=True)[:4])
    assert sorted(StatSnapshot.objects.values_list("pk", flat=True)) == sorted(newest)
    assert {StatSnapshot.objects.filter(stream_id=i).count() for i in ids} == {2}

def test_session_gone_ends_the_stream(api, fleet):
    port = provision(api)["host_http_port"]
    gone, kept = start_streams(api, port, 2)
    session = Stream.objects.get(pk=gone).playback_session_id
    assert httpx.get(f"http://127.0.0.1:{port}/sim/session/{session}/end").status_code == 200

    summary = collect_pass()

    assert (summary.ended, summary.stored, summary.errors) == (1, 1, 0)
    stream = Stream.objects.get(pk=gone)
    assert (stream.status, stream.ended_reason) == ("ended", "engine_stopped_stream")
    assert Stream.objects.get(pk=kept).status == "started"
    assert Engine.objects.get().idle_since is None, "one stream still plays"
    assert Counter.read("orch_events_ended_total") == {"": 1}

    httpx.get(f"http://127.0.0.1:{port}/sim/session/"
              f"{Stream.objects.get(pk=kept).playback_session_id}/end")
    collect_pass()
    assert Engine.objects.get().idle_since is not None
