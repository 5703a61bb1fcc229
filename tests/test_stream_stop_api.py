"""DELETE /streams/{id}: the engine stops the session, the stream ends (`manual_stop`) whether or
not the engine confirms; unknown ids are 404, an ended stream 409."""

import httpx
import pytest

from streams.models import Stream
from tests.support.stream_events import acexy_started, engine_record, fake_started, play, provision

pytestmark = [pytest.mark.docker, pytest.mark.django_db]


def sessions(port: int) -> dict:
    return {s["id"]: s for s in httpx.get(f"http://127.0.0.1:{port}/sim/sessions", timeout=5).json()}


def test_stop_asks_the_engine_and_ends_the_stream(api, fleet):
    engine = provision(api)
    port = engine["host_http_port"]
    session = play(port, "stop-me")
    stream = api.post("/events/stream_started", acexy_started(session, port, "stop-me")).json()

    response = api.delete(f"/streams/{stream['id']}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["message"], body["stream_id"], body["engine_confirmed"], body["problem"]) == (
        "Stream stopped successfully", stream["id"], True, None)
    assert (body["stream"]["status"], body["stream"]["ended_reason"]) == ("ended", "manual_stop")
    assert sessions(port)[session["playback_session_id"]]["stopped"] is True

    again = api.delete(f"/streams/{stream['id']}")
    assert again.status_code == 409 and "has ended" in again.json()["detail"]


def test_an_unreachable_engine_does_not_keep_the_stream(api):
    engine_record(20003)  # nothing listens there
    stream = api.post("/events/stream_started", fake_started(20003)).json()
    body = api.delete(f"/streams/{stream['id']}").json()
    assert body["engine_confirmed"] is False and "could not be asked" in body["problem"]
    assert Stream.objects.get(pk=stream["id"]).ended_reason == "manual_stop"


def test_unknown_stream_is_404(api):
    response = api.delete("/streams/nothing-like-it")
    assert response.status_code == 404 and "nothing-like-it" in response.json()["detail"]
