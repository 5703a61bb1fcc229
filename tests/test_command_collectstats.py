import pytest

from tests.support.commands import command_output
from tests.support.stream_events import acexy_started, play

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def collectstats() -> list[str]:
    return command_output("collectstats").splitlines()


def test_one_pass_stores_and_prints_the_latest_stats_of_each_stream(api, fleet):
    assert collectstats() == ["no started streams"]
    engine = api.post("/provision/acestream", {"wait_ready": True}).json()
    port = engine["host_http_port"]
    response = api.post("/events/stream_started", acexy_started(
        play(port, "b" * 40), port, "b" * 40, labels={"stream_id": "ch-7"}))
    assert response.status_code == 200, response.content
    assert api.get("/streams/ch-7/stats").json() == []

    lines = collectstats()
    assert lines[0].split() == ["STREAM", "ENGINE", "STATUS", "PEERS", "DOWN", "KB/s", "UP", "KB/s",
                                "STATS"]
    latest = api.get("/streams/ch-7/stats").json()[-1]
    assert lines[1].split() == ["ch-7", engine["container_name"], latest["status"],
                                str(latest["peers"]), str(latest["speed_down"]),
                                str(latest["speed_up"]), "0s", "ago"]
