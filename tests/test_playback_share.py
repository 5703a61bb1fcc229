"""Players on /ace/getstream: four players of one content share one engine session, each gets
whole packets in one contiguous run; a late joiner starts aligned and at once; two contents never
mix; the engine the proxy chose and the stream it recorded are what /streams shows."""

import asyncio

import httpx
import pytest

from tests.support import ts
from tests.support.events import wait_for
from tests.support.live import Orchestrator
from tests.support.players import Player

pytestmark = [pytest.mark.docker, pytest.mark.live, pytest.mark.slow]

CONTENT_A = "a" * 40
CONTENT_B = "b" * 40
KB = 1024


@pytest.fixture(scope="module")
def orchestrator(module_fleet, engine_image):
    orch = Orchestrator(env={"TARGET_IMAGE": engine_image, "MIN_REPLICAS": "0",
                             "PROXY_LINGER_S": "2"})
    orch.start()
    yield orch
    orch.stop()


def players(orch, content: str, count: int) -> list[Player]:
    return [Player(f"127.0.0.1:{orch.port}", f"id={content}&key={orch.api_key}") for _ in range(count)]


def sessions(port: int) -> list[dict]:
    return httpx.get(f"http://127.0.0.1:{port}/sim/sessions", timeout=5).json()


def test_four_players_share_one_engine_session(orchestrator, fleet):
    async def scenario():
        group = players(orchestrator, CONTENT_A, 4)
        await asyncio.gather(*(player.open() for player in group))
        await asyncio.gather(*(player.read_until(64 * KB) for player in group))
        late = players(orchestrator, CONTENT_A, 1)[0]
        await late.open()
        await late.read_until(16 * KB)
        for player in [*group, late]:
            player.close()
        return group, late

    group, late = asyncio.run(scenario())
    assert all(player.status == 200 for player in group)
    assert group[0].headers["content-type"] == "video/mp2t"
    runs = [ts.verify(bytes(player.received)).runs for player in [*group, late]]
    assert all(len(found) == 1 for found in runs), runs
    assert len({found[0].session_id for found in runs}) == 1, "one engine session for all"
    assert late.first_byte_s < 0.5
    with orchestrator.client() as client:
        started = client.get("/streams", params={"status": "started"}).json()
        assert len(started) == 1 and started[0]["played_by"].startswith("orchestrator:")
        engine = client.get(f"/engines/{started[0]['container_id']}").json()["engine"]
        live = [s for s in sessions(engine["port"]) if not s["stopped"]]
        assert len(live) == 1 and live[0]["id"] == started[0]["playback_session_id"]
        status = client.get("/proxy/status").json()
        assert status["contents"][0]["key"] == f"id:{CONTENT_A}"


def test_two_contents_never_mix(orchestrator, fleet):
    async def scenario():
        a, b = players(orchestrator, CONTENT_A, 1)[0], players(orchestrator, CONTENT_B, 1)[0]
        await asyncio.gather(a.open(), b.open())
        await asyncio.gather(a.read_until(32 * KB), b.read_until(32 * KB))
        a.close()
        b.close()
        return a, b

    a, b = asyncio.run(scenario())
    runs_a, runs_b = ts.verify(bytes(a.received)).runs, ts.verify(bytes(b.received)).runs
    assert {run.session_id for run in runs_a}.isdisjoint(run.session_id for run in runs_b)


def test_the_last_player_gone_ends_the_session_after_the_linger(orchestrator, fleet):
    with orchestrator.client() as client:
        earlier = {s["id"] for s in client.get("/streams").json()}  # of the tests before

    async def scenario():
        player = players(orchestrator, CONTENT_A, 1)[0]
        await player.open()
        await player.read_until(16 * KB)
        player.close()

    asyncio.run(scenario())
    with orchestrator.client() as client:
        def ended():
            streams = client.get("/streams", params={"status": "ended"}).json()
            return [s for s in streams if s["key"] == CONTENT_A and s["ended_reason"] == "no_players"
                    and s["id"] not in earlier]

        stream = wait_for(ended, timeout=20, interval=0.2)[0]
        engine = client.get(f"/engines/{stream['container_id']}").json()["engine"]
        session = next(s for s in sessions(engine["port"]) if s["id"] == stream["playback_session_id"])
        assert session["stopped"] is True and session["readers"] == 0
        assert client.get("/proxy/status").json()["contents"] == [] or wait_for(
            lambda: client.get("/proxy/status").json()["contents"] == [], timeout=10)


@pytest.mark.parametrize("query, status", [
    ("", 400), (f"id={CONTENT_A}&infohash={CONTENT_B}", 400), ("id=abc", 400),
    ("id=" + "a" * 4000, 400), ("id=../../etc/passwd", 400),
    (f"id={CONTENT_A}&file_indexes=1;2", 400),
])
def test_bad_input_is_refused_before_any_engine(orchestrator, query, status):
    with httpx.Client(base_url=orchestrator.base_url, timeout=10) as client:
        before = client.get("/engines", headers={"Authorization": f"Bearer {orchestrator.api_key}"}).json()
        answer = client.get(f"/ace/getstream?{query}&key={orchestrator.api_key}")
        assert answer.status_code == status, answer.text
        assert "detail" in answer.json()
        after = client.get("/engines", headers={"Authorization": f"Bearer {orchestrator.api_key}"}).json()
        assert len(after) == len(before)


def test_keys(orchestrator):
    path = f"/ace/getstream?id={CONTENT_A}"
    with httpx.Client(base_url=orchestrator.base_url, timeout=10) as client:
        assert client.head(path).status_code == 401
        assert client.get(path).json() == {"detail": "missing bearer token"}
        assert client.get(f"{path}&key=wrong").status_code == 403
        assert client.head(f"{path}&key={orchestrator.api_key}").status_code == 200
        assert client.head(path, headers={"Authorization": f"Bearer {orchestrator.api_key}"}
                           ).status_code == 200
        # A key in the query string opens playback routes only.
        assert client.get(f"/engines?key={orchestrator.api_key}").status_code == 401


def test_the_panel_shows_players_and_what_each_engine_plays(orchestrator, fleet):
    from tests.support.sockets import staff_cookie

    cookie = staff_cookie(orchestrator)

    def panel_state() -> dict:
        return httpx.get(f"{orchestrator.base_url}/panel/state.json", headers={"Cookie": cookie},
                         timeout=10).json()

    async def scenario():
        group = players(orchestrator, CONTENT_B, 3)
        await asyncio.gather(*(player.open() for player in group))
        await asyncio.gather(*(player.read_until(8 * KB) for player in group))
        state = await asyncio.to_thread(wait_for, lambda: (found := panel_state()) and any(
            s.get("players") == 3 for s in found["streams"]) and found, 15, 0.2)
        for player in group:
            player.close()
        return state

    state = asyncio.run(scenario())
    stream = next(s for s in state["streams"] if s["key"] == CONTENT_B)
    assert stream["played_by_orchestrator"] is True and stream["players"] == 3
    engine = next(e for e in state["engines"] if e["name"] == stream["engine"])
    assert engine["playing"] == [f"id:{CONTENT_B}"]
