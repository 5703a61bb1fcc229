import pytest

from core.models import Counter
from engines.models import Engine
from streams.models import Stream
from tests.support.stream_events import engine_record, fake_started

pytestmark = pytest.mark.django_db(transaction=True)

PORT = 20001


@pytest.fixture
def two_streams(api):
    engine_record(PORT)
    for session in ("s1", "s2"):
        assert api.post("/events/stream_started", fake_started(PORT, session_id=session)).status_code == 200


def ended_total() -> float:
    return Counter.read("orch_events_ended_total").get("", 0)


def active() -> int:
    return Stream.objects.started().count()


def test_end_by_stream_id_stores_the_reason(api, two_streams):
    response = api.post("/events/stream_ended", {"stream_id": "k1|s1", "reason": "handler_exit"})

    assert response.status_code == 200
    body = response.json()
    assert body["updated"] is True
    assert body["stream"]["id"] == "k1|s1"
    assert body["stream"]["status"] == "ended"
    assert body["stream"]["ended_reason"] == "handler_exit"
    assert body["stream"]["ended_at"].endswith(("Z", "+00:00"))
    assert Stream.objects.get(pk="k1|s2").status == "started"
    assert ended_total() == 1
    assert Engine.objects.get().idle_since is None, "the engine still has a started stream"


def test_end_by_container_takes_the_newest_started_stream(api, two_streams):
    response = api.post("/events/stream_ended", {"container_id": "cid-rec-1"}).json()
    assert response["updated"] is True
    assert response["stream"]["id"] == "k1|s2"
    assert Stream.objects.get(pk="k1|s1").status == "started"


def scraped(api, name: str) -> float:
    for line in api.get("/metrics").content.decode().splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def test_second_end_changes_nothing(api, two_streams):
    api.post("/events/stream_ended", {"stream_id": "k1|s1", "reason": "handler_exit"})
    before = (ended_total(), active(), Stream.objects.get(pk="k1|s1").ended_at)
    assert (scraped(api, "orch_streams_active"), scraped(api, "orch_events_ended_total")) == (1, 1)

    again = api.post("/events/stream_ended", {"stream_id": "k1|s1", "reason": "other"}).json()

    assert again["updated"] is False
    assert again["stream"]["status"] == "ended"
    assert again["stream"]["ended_reason"] == "handler_exit"
    assert (ended_total(), active(), Stream.objects.get(pk="k1|s1").ended_at) == before
    assert (scraped(api, "orch_streams_active"), scraped(api, "orch_events_ended_total")) == (1, 1)


def test_fetch_failed_for_a_stream_that_never_started_touches_nothing(api, two_streams):
    """acexy sends `<key>|fetch_failed` when the engine refused; the original then ended another
    stream of the same container."""
    response = api.post("/events/stream_ended", {
        "stream_id": "k1|fetch_failed", "container_id": "cid-rec-1", "reason": "fetch_stream_failed",
    })

    assert response.status_code == 200
    assert response.json() == {"updated": False, "stream": None}
    assert active() == 2
    assert ended_total() == 0


def test_unknown_container_ends_nothing(api, two_streams):
    assert api.post("/events/stream_ended", {"container_id": "nope"}).json() == {
        "updated": False, "stream": None}
    assert active() == 2


def test_last_stream_ending_starts_the_idle_clock(api, two_streams):
    api.post("/events/stream_ended", {"stream_id": "k1|s1"})
    api.post("/events/stream_ended", {"stream_id": "k1|s2"})

    engine = Engine.objects.get()
    assert engine.idle_since is not None
    assert api.get("/engines").json()[0]["active_streams"] == 0
    assert Stream.objects.get(pk="k1|s1").ended_reason == "unspecified"


def test_listing_by_status(api, two_streams):
    api.post("/events/stream_ended", {"stream_id": "k1|s1"})
    assert [s["id"] for s in api.get("/streams?status=ended").json()] == ["k1|s1"]
    assert [s["id"] for s in api.get("/streams?status=started").json()] == ["k1|s2"]
    assert len(api.get("/streams").json()) == 2
