"""GET /streams/{id}/livepos: the live position the engine reports now, as its strings."""

import pytest

from tests.support.stream_events import acexy_started, engine_record, fake_started, play, provision

pytestmark = [pytest.mark.docker, pytest.mark.django_db]


def test_livepos_of_a_started_stream(api, fleet):
    engine = provision(api)
    port = engine["host_http_port"]
    stream = api.post("/events/stream_started",
                      acexy_started(play(port, "live-1"), port, "live-1")).json()
    response = api.get(f"/streams/{stream['id']}/livepos")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["stream_id"], body["has_livepos"], body["is_live"]) == (stream["id"], True, True)
    assert set(body["livepos"]) == {"pos", "live_first", "live_last", "first_ts", "last_ts",
                                    "buffer_pieces"}
    assert all(isinstance(value, str) and value.isdigit() for value in body["livepos"].values())
    assert int(body["livepos"]["live_first"]) <= int(body["livepos"]["pos"]) <= int(
        body["livepos"]["live_last"])

    api.post("/events/stream_ended", {"stream_id": stream["id"]})
    assert api.get(f"/streams/{stream['id']}/livepos").status_code == 409


def test_an_unreachable_engine_is_503(api):
    engine_record(20004)
    stream = api.post("/events/stream_started", fake_started(20004)).json()
    response = api.get(f"/streams/{stream['id']}/livepos")
    assert response.status_code == 503 and "could not be asked" in response.json()["detail"]


def test_unknown_stream_is_404(api):
    assert api.get("/streams/unknown|x/livepos").status_code == 404
