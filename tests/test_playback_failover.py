"""Failover on the same player connections: the serving engine killed (docker kill), an engine
that sends garbage, an engine that stalls. Every player's connection stays open, the bytes resume
on a packet boundary from one new session on another engine, the old stream ends with the reason
and a new one starts."""

import asyncio

import httpx
import pytest

from tests.support import ts
from tests.support.events import wait_for
from tests.support.live import Orchestrator
from tests.support.players import Player

pytestmark = [pytest.mark.docker, pytest.mark.live, pytest.mark.slow]

KB = 1024


@pytest.fixture
def orchestrator(fleet, engine_image):
    # Two warm engines: a free one to fail over to.
    orch = Orchestrator(env={"TARGET_IMAGE": engine_image, "MIN_REPLICAS": "2",
                             "PROXY_STALL_S": "2", "PROXY_LINGER_S": "1"})
    orch.start()
    with orch.client() as client:
        wait_for(lambda: len([e for e in client.get("/engines").json()
                              if e["health_status"] == "healthy"]) == 2, timeout=60, interval=0.3)
    yield orch
    orch.stop()


def serving_engine(orch) -> dict:
    with orch.client() as client:
        stream = wait_for(lambda: client.get("/streams", params={"status": "started"}).json(),
                          timeout=20)[0]
        return client.get(f"/engines/{stream['container_id']}").json()["engine"] | {"stream": stream}


def fault(port: int, mode: str) -> None:
    httpx.get(f"http://127.0.0.1:{port}/sim/fault", params={"mode": mode}, timeout=5)


async def read_into_a_second_session(player: Player, timeout: float = 40) -> None:
    """Read past what the ring held of the harmed session (a player behind on a loaded machine
    may have more of it to read than any fixed amount) until 48 KiB of a second session came."""
    async with asyncio.timeout(timeout):
        while len(ts.verify(bytes(player.received)).runs) < 2:
            await player.read_until(len(player.received) + 16 * KB, timeout=timeout)
        await player.read_until(len(player.received) + 48 * KB, timeout=timeout)


def play_through(orch, harm, content: str, count: int = 3) -> list[Player]:
    """Players read a while, `harm(engine)` breaks the serving engine, they go on reading."""
    async def scenario():
        group = [Player(f"127.0.0.1:{orch.port}", f"id={content}&key={orch.api_key}")
                 for _ in range(count)]
        await asyncio.gather(*(player.open() for player in group))
        await asyncio.gather(*(player.read_until(48 * KB) for player in group))
        await asyncio.to_thread(harm, serving_engine(orch))
        await asyncio.gather(*(read_into_a_second_session(player) for player in group))
        for player in group:
            player.close()
        return group

    return asyncio.run(scenario())


def assert_spliced(group: list[Player]) -> None:
    for player in group:
        assert not player.ended, "the player's connection stayed open"
        runs = ts.verify(bytes(player.received)).runs
        assert len(runs) == 2 and runs[0].session_id != runs[1].session_id, runs


def ended_reasons(orch, key: str) -> list[str]:
    with orch.client() as client:
        return [s["ended_reason"] for s in client.get("/streams", params={"status": "ended"}).json()
                if s["key"] == key]


def test_docker_kill_of_the_serving_engine(orchestrator, fleet):
    content = "c" * 40
    group = play_through(orchestrator, lambda engine: fleet.containers.get(
        engine["container_id"]).kill(), content)
    assert_spliced(group)
    assert wait_for(lambda: ended_reasons(orchestrator, content), timeout=10) == ["engine_died"]


def test_garbage_from_the_engine_is_failed_over_not_fanned_out(orchestrator):
    content = "d" * 40
    group = play_through(orchestrator, lambda engine: fault(engine["port"], "garbage_stream"),
                         content)
    assert_spliced(group)
    assert wait_for(lambda: ended_reasons(orchestrator, content), timeout=10) == ["not_ts"]


def test_a_stalled_engine_is_failed_over(orchestrator):
    content = "e" * 40
    group = play_through(orchestrator, lambda engine: fault(engine["port"], "stall_stream"), content)
    assert_spliced(group)
    assert wait_for(lambda: ended_reasons(orchestrator, content), timeout=10) == ["stalled"]
