"""Playback's limits and keys: PROXY_MAX_PLAYERS_PER_STREAM and PROXY_MAX_STREAMS answer 503
`proxy_capacity` with a JSON detail; STREAM_KEY opens playback and nothing else; a player that
never reads is cut off while another one keeps the rate."""

import asyncio

import httpx
import pytest

from tests.support import ts
from tests.support.events import wait_for
from tests.support.live import Orchestrator
from tests.support.players import Player

pytestmark = [pytest.mark.docker, pytest.mark.live, pytest.mark.slow]

KB = 1024
STREAM_KEY = "stream-key-for-tests-0123"


@pytest.fixture(scope="module")
def orchestrator(module_fleet, engine_image):
    orch = Orchestrator(env={"TARGET_IMAGE": engine_image, "MIN_REPLICAS": "0",
                             "MAX_STREAMS_PER_ENGINE": "2", "PROXY_MAX_PLAYERS_PER_STREAM": "2",
                             "PROXY_MAX_STREAMS": "1", "PROXY_BUFFER_MB": "1",
                             "PROXY_LINGER_S": "1", "STREAM_KEY": STREAM_KEY})
    orch.start()
    yield orch
    orch.stop()


def player(orch, content: str, key: str | None = None) -> Player:
    return Player(f"127.0.0.1:{orch.port}", f"id={content}&key={key or orch.api_key}")


def test_players_and_contents_beyond_the_limits(orchestrator, fleet):
    async def scenario():
        first, second = player(orchestrator, "a" * 40), player(orchestrator, "a" * 40)
        await first.open()
        await first.read_until(8 * KB)
        await second.open()
        third = player(orchestrator, "a" * 40)
        await third.open()
        other = player(orchestrator, "b" * 40)
        await other.open()
        for each in (first, second, third, other):
            each.close()
        return second, third, other

    second, third, other = asyncio.run(scenario())
    assert second.status == 200
    assert third.status == 503 and third.detail()["code"] == "proxy_capacity"
    assert other.status == 503 and other.detail()["code"] == "proxy_capacity"
    assert "PROXY_MAX_STREAMS" in other.detail()["message"]


def test_the_stream_key_opens_playback_only(orchestrator):
    with httpx.Client(base_url=orchestrator.base_url, timeout=10) as client:
        assert client.head(f"/ace/getstream?id={'a' * 40}&key={STREAM_KEY}").status_code == 200
        refused = client.get("/engines", headers={"Authorization": f"Bearer {STREAM_KEY}"})
        assert refused.status_code == 403


def test_a_player_that_never_reads_is_cut_off_and_others_keep_going(orchestrator, fleet):
    with orchestrator.client() as client:  # PROXY_MAX_STREAMS is 1: the last test's content gone
        wait_for(lambda: client.get("/proxy/status").json()["contents"] == [], timeout=20)

    def cut_off() -> int:
        with orchestrator.client() as client:
            contents = client.get("/proxy/status").json()["contents"]
        return contents[0]["cut_off"] if contents else 0

    async def scenario():
        fast, stuck = player(orchestrator, "f" * 40), player(orchestrator, "f" * 40)
        await fast.open()
        await stuck.open()  # headers read, then nothing
        assert (fast.status, stuck.status) == (200, 200), fast.error_body
        with orchestrator.client() as client:
            stream = (await asyncio.to_thread(client.get, "/streams", params={"status": "started"})
                      ).json()[0]
            engine = (await asyncio.to_thread(client.get, f"/engines/{stream['container_id']}")
                      ).json()["engine"]
        await asyncio.to_thread(httpx.get, f"http://127.0.0.1:{engine['port']}/sim/rate",
                                params={"kbps": 1024}, timeout=5)
        # A 1 MiB ring at 1 MiB/s: once the socket's buffers are full, the stuck player falls out
        # of the ring within a second or two, while the fast one reads on.
        began = asyncio.get_running_loop().time()
        reading = asyncio.create_task(fast.read_until(1 << 40, timeout=120))
        await asyncio.to_thread(wait_for, lambda: cut_off() >= 1, 90, 0.3)
        elapsed = asyncio.get_running_loop().time() - began
        reading.cancel()
        await stuck.read_to_end(timeout=30)  # what its socket held, then the end
        fast.close()
        stuck.close()
        return fast, stuck, elapsed

    fast, stuck, elapsed = asyncio.run(scenario())
    assert stuck.ended, "the stuck player was cut off"
    assert len(ts.verify(bytes(fast.received)).runs) == 1
    # Held back by the stuck one, it would get the ring and its socket buffers (2-3 MiB) in all;
    # reading on, it gets the engine's 1 MiB/s, less what a loaded 2-core machine takes from it.
    assert len(fast.received) >= 0.5 * 1024 * KB * (elapsed - 1), "the fast one kept the rate"
    with orchestrator.client() as client:
        wait_for(lambda: "orch_proxy_players_cut_off_total 1.0" in client.get("/metrics").text,
                 timeout=10, interval=0.2)
