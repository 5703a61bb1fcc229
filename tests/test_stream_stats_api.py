from datetime import UTC, datetime

import pytest

from streams.models import StatSnapshot
from tests.support.stream_events import engine_record, fake_started

pytestmark = pytest.mark.django_db(transaction=True)

PORT = 20001


def at(hour: int) -> datetime:
    return datetime(2026, 11, 26, hour, 0, tzinfo=UTC)


def add_snapshots(stream_id: str, hours) -> None:
    for hour in hours:
        StatSnapshot.objects.create(stream_id=stream_id, ts=at(hour), peers=hour, speed_down=500,
                                    speed_up=50, downloaded=hour * 1000, uploaded=10, status="dl")


@pytest.fixture
def stream(api):
    engine_record(PORT)
    assert api.post("/events/stream_started", fake_started(PORT)).status_code == 200
    add_snapshots("k1|s1", [12, 10, 11])
    return "k1|s1"


def hours(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [datetime.fromisoformat(row["ts"]).hour for row in response.json()]


def test_history_oldest_first_with_every_field(api, stream):
    rows = api.get(f"/streams/{stream}/stats").json()
    assert [row["peers"] for row in rows] == [10, 11, 12]
    assert rows[0] == {"ts": rows[0]["ts"], "peers": 10, "speed_down": 500, "speed_up": 50,
                       "downloaded": 10000, "uploaded": 10, "status": "dl"}
    assert rows[0]["ts"].endswith(("Z", "+00:00"))


@pytest.mark.parametrize("since, expected", [
    ("2026-11-26T11:00:00+00:00", [11, 12]),
    ("2026-11-26T11:00:00Z", [11, 12]),
    ("2026-11-26T11:00:00", [11, 12]),          # no offset: UTC
    ("2026-11-26T11:00:00 00:00", [11, 12]),    # an unescaped + arrives as a space
    ("2026-11-26T12:00:00+01:00", [11, 12]),    # 11:00 UTC
    ("2026-11-26T12:30:00+00:00", []),
])
def test_since(api, stream, since, expected):
    assert hours(api.get(f"/streams/{stream}/stats", data={"since": since})) == expected


def test_url_keys_with_slashes_reach_their_stream(api):
    engine_record(PORT)
    body = fake_started(PORT)
    body["stream"] = {"key_type": "url", "key": "http://tv.example/live/ch1.ts"}
    stream_id = api.post("/events/stream_started", body).json()["id"]
    assert stream_id == "http://tv.example/live/ch1.ts|s1"
    add_snapshots(stream_id, [10])

    assert hours(api.get(f"/streams/{stream_id}/stats")) == [10]


def test_stream_state_carries_the_latest_stats(api, stream):
    listed = api.get("/streams").json()
    assert listed[0]["latest_stats"]["peers"] == 12
    started = api.post("/events/stream_started", fake_started(PORT)).json()
    assert started["latest_stats"]["downloaded"] == 12000
