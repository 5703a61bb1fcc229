"""Playback across processes: with two web processes, players landing on either share one engine
session (the second relays to the first); after an orchestrator restart the streams it played
are ended (`orchestrator_restart`), their engine sessions stopped, and a player coming back gets
a fresh session at once."""

import asyncio

import httpx
import pytest

from tests.support import ts
from tests.support.events import wait_for
from tests.support.live import Orchestrator
from tests.support.players import Player

pytestmark = [pytest.mark.docker, pytest.mark.live, pytest.mark.slow]

KB = 1024
CONTENT = "9" * 40


def player(orch) -> Player:
    return Player(f"127.0.0.1:{orch.port}", f"id={CONTENT}&key={orch.api_key}")


def test_two_web_processes_one_upstream(fleet, engine_image):
    orch = Orchestrator(env={"TARGET_IMAGE": engine_image, "MIN_REPLICAS": "0",
                             "WEB_PROCESSES": "2"})
    with orch:
        async def scenario():
            anchor = player(orch)  # keeps the content playing while the others come and go
            await anchor.open()
            await anchor.read_until(8 * KB)
            others = []
            # The kernel spreads connections over both processes: players come and go until the
            # second process has relayed two of them (it logs each).
            while orch.logs("web-2").count("relaying a player") < 2:
                assert len(others) < 40, "no player ever reached the second web process"
                others.append(player(orch))
                await others[-1].open()
                await others[-1].read_until(8 * KB)
                others[-1].close()
            await anchor.read_until(48 * KB)
            anchor.close()
            return [anchor, *others]

        group = asyncio.run(scenario())
        assert all(each.status == 200 for each in group)
        sessions = {run.session_id for each in group for run in ts.verify(bytes(each.received)).runs}
        assert len(sessions) == 1, "one engine session, whichever process the player reached"
        with orch.client() as client:
            assert len(client.get("/streams", params={"status": "started"}).json()) == 1


def test_a_restart_ends_what_was_played_and_players_start_again(fleet, engine_image):
    env = {"TARGET_IMAGE": engine_image, "MIN_REPLICAS": "0"}
    first = Orchestrator(env=env).start()

    async def play_a_while(orch, then=None):
        each = player(orch)
        await each.open()
        await each.read_until(16 * KB)
        if then is not None:
            await asyncio.to_thread(then)
        each.close()
        return each

    try:
        with first.client() as client:
            asyncio.run(play_a_while(first, then=lambda: _remember(first, client)))
    finally:
        first.kill()
    before, engine = _remembered["stream"], _remembered["engine"]
    second = Orchestrator(env=env, data_dir=first.data_dir).start()
    try:
        with second.client() as client:
            def ended():
                stream = next(s for s in client.get("/streams").json() if s["id"] == before["id"])
                return stream["status"] == "ended" and stream
            assert wait_for(ended, timeout=20, interval=0.2)["ended_reason"] == "orchestrator_restart"
            sessions = httpx.get(f"http://127.0.0.1:{engine['port']}/sim/sessions", timeout=5).json()
            assert next(s for s in sessions if s["id"] == before["playback_session_id"])["stopped"]
        back = asyncio.run(play_a_while(second))
        assert back.status == 200 and back.first_byte_s < 15
        runs = ts.verify(bytes(back.received)).runs
        assert runs[0].session_id != before["playback_session_id"]
    finally:
        second.stop()


_remembered: dict = {}


def _remember(orch, client) -> None:
    """What was playing when the orchestrator was killed."""
    _remembered["stream"] = client.get("/streams", params={"status": "started"}).json()[0]
    _remembered["engine"] = client.get(
        f"/engines/{_remembered['stream']['container_id']}").json()["engine"]
