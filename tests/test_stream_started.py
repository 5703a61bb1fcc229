import pytest

from core.models import Counter
from engines.models import Engine
from streams.models import Stream
from tests.support.stream_events import acexy_started, engine_record, fake_started, play, provision

pytestmark = pytest.mark.django_db(transaction=True)


def started_total() -> float:
    return Counter.read("orch_events_started_total").get("", 0)


@pytest.mark.docker
def test_acexy_form_matches_the_managed_engine_by_port(api, fleet):
    engine = provision(api)
    port = engine["host_http_port"]
    session = play(port, "ch-1")
    body = acexy_started(session, port, "ch-1", labels={"proxy": "acexy"})

    response = api.post("/events/stream_started", body)

    assert response.status_code == 200, response.content
    stream = response.json()
    assert stream["id"] == f"ch-1|{session['playback_session_id']}"
    assert stream["container_id"] == engine["container_id"]
    assert stream["status"] == "started"
    assert stream["is_live"] is True
    assert stream["started_at"].endswith(("Z", "+00:00"))
    assert stream["ended_at"] is None
    assert stream["stat_url"] == body["session"]["stat_url"]
    listed = api.get("/engines").json()
    assert len(listed) == 1, "no external duplicate of the managed engine"
    assert listed[0]["streams"] == [stream["id"]]
    assert listed[0]["active_streams"] == 1
    assert listed[0]["idle_seconds"] == 0
    assert listed[0]["last_stream_usage"] is not None
    assert "proxy" not in listed[0]["labels"], "event labels must not leak into the engine"
    record = Engine.objects.get(container_id=engine["container_id"])
    assert record.idle_since is None
    assert started_total() == 1
    assert api.get(f"/streams?container_id={engine['container_id']}&status=started").json()[0][
        "id"] == stream["id"]


def test_repeated_start_updates_without_duplicate_or_double_count(api):
    engine_record(20001)
    body = fake_started(20001)
    first = api.post("/events/stream_started", body).json()
    body["session"]["is_live"] = 0
    second = api.post("/events/stream_started", body)

    assert second.status_code == 200
    assert second.json()["id"] == first["id"] == "k1|s1"
    assert second.json()["is_live"] is False
    assert second.json()["started_at"] == first["started_at"]
    assert Stream.objects.count() == 1
    assert started_total() == 1


def test_labels_stream_id_names_the_stream(api):
    engine_record(20001)
    response = api.post("/events/stream_started", fake_started(20001, labels={"stream_id": "ch-42"}))
    assert response.json()["id"] == "ch-42"
    assert response.json()["labels"] == {"stream_id": "ch-42"}


def test_container_id_wins_over_the_port(api):
    engine_record(20001, name="one")
    engine_record(20002, name="two")
    body = fake_started(20002, host="127.0.0.1", container_id="cid-two")
    assert api.post("/events/stream_started", body).json()["container_id"] == "cid-two"


def test_unknown_engine_is_recorded_once_as_external(api):
    engine_record(20001)
    first = api.post("/events/stream_started", fake_started(7000, key="a", host="localhost"))
    second = api.post("/events/stream_started", fake_started(7000, key="b", host="127.0.0.1"))

    assert first.status_code == second.status_code == 200, second.content
    external = Engine.objects.get(managed=False)
    assert external.container_id == first.json()["container_id"] == "external-localhost-7000"
    assert second.json()["container_id"] == external.container_id
    assert external.port == 7000
    assert Engine.objects.count() == 2
    assert external.last_stream_usage is not None


def test_start_after_end_counts_again(api):
    engine_record(20001)
    api.post("/events/stream_started", fake_started(20001))
    api.post("/events/stream_ended", {"stream_id": "k1|s1", "reason": "handler_exit"})
    again = api.post("/events/stream_started", fake_started(20001)).json()

    assert again["status"] == "started"
    assert again["ended_at"] is None and again["ended_reason"] == ""
    assert started_total() == 2
    assert Engine.objects.get().idle_since is None


def test_moving_a_stream_starts_the_old_engines_idle_clock(api):
    engine_record(20001, name="one")
    engine_record(20002, name="two")
    api.post("/events/stream_started", fake_started(20001, labels={"stream_id": "s"}))
    api.post("/events/stream_started", fake_started(20002, labels={"stream_id": "s"}))

    assert Engine.objects.get(container_name="one").idle_since is not None
    assert Engine.objects.get(container_name="two").idle_since is None
    assert started_total() == 1
