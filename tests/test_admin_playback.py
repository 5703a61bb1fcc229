"""The admin's played contents: "move to another engine" is a failover on demand (players keep
their connection, the old stream ends as moved) and "stop" ends the content, both run by the
process that plays it."""

import asyncio

import httpx
import pytest

from tests.support import ts
from tests.support.events import wait_for
from tests.support.live import Orchestrator
from tests.support.players import Player
from tests.support.sockets import staff_cookie

pytestmark = [pytest.mark.docker, pytest.mark.live, pytest.mark.slow]

CONTENT = "5" * 40
CHANGELIST = "/admin/playback/playedcontent/"


def admin_action(orch: Orchestrator, action: str) -> None:
    cookie = staff_cookie(orch)
    with httpx.Client(base_url=orch.base_url, timeout=20, headers={"Cookie": cookie}) as client:
        with orch.client() as api:
            row = wait_for(lambda: api.get("/proxy/status").json()["contents"], timeout=20)[0]
        page = client.get(CHANGELIST)
        assert page.status_code == 200 and row["key"] in page.text
        token = cookie.split("csrftoken=")[1].split(";")[0]
        pk = page.text.split('name="_selected_action" value="')[1].split('"')[0]
        answer = client.post(CHANGELIST, data={"action": action, "_selected_action": pk,
                                               "post": "yes", "csrfmiddlewaretoken": token})
        assert answer.status_code in (200, 302), answer.text[:500]


def test_move_then_stop(fleet, engine_image):
    env = {"TARGET_IMAGE": engine_image, "MIN_REPLICAS": "2"}
    with Orchestrator(env=env) as orch:
        with orch.client() as client:
            wait_for(lambda: len([e for e in client.get("/engines").json()
                                  if e["health_status"] == "healthy"]) == 2, timeout=60)

        async def scenario():
            player = Player(f"127.0.0.1:{orch.port}", f"id={CONTENT}&key={orch.api_key}")
            await player.open()
            await player.read_until(32 * 1024)
            await asyncio.to_thread(admin_action, orch, "move_selected")
            while len({run.session_id for run in ts.verify(bytes(
                    player.received[:len(player.received) // 188 * 188])).runs}) < 2:
                await player.read_until(len(player.received) + 188, timeout=30)
            await asyncio.to_thread(admin_action, orch, "stop_selected")
            await player.read_to_end(timeout=30)
            return player

        player = asyncio.run(scenario())
        assert player.ended
        with orch.client() as client:
            reasons = sorted(s["ended_reason"] for s in
                             client.get("/streams", params={"status": "ended"}).json())
        assert reasons == ["moved", "stopped_by_operator"]
