"""acexy's workflow end to end against a simulator engine: provision → play with format=json →
stream_started → snapshots → stream_ended → the idle engine is removed after the grace period."""

import httpx
import pytest

from engines import health
from streams.collector import collect_pass
from tests.support.events import wait_for
from tests.support.stream_events import acexy_started, play

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def test_proxy_workflow(api, fleet, orch):
    orch(ENGINE_GRACE_PERIOD_S=1, MIN_REPLICAS=0)
    provisioned = api.post("/provision/acestream", {"labels": {}, "env": {}})
    assert provisioned.status_code == 200, provisioned.content
    engine = provisioned.json()
    port = engine["host_http_port"]
    # acexy waits 10 s after provisioning; here, until the engine answers.
    assert health.poll_get_status("127.0.0.1", port, 15) == ""

    session = play(port, "0a48ce")
    started = api.post("/events/stream_started", acexy_started(session, port, "0a48ce"))
    assert started.status_code == 200, started.content
    stream_id = started.json()["id"]
    assert stream_id == f"0a48ce|{session['playback_session_id']}"

    listed = api.get("/engines").json()
    assert [e["streams"] for e in listed] == [[stream_id]]
    assert api.get(f"/streams?container_id={engine['container_id']}&status=started"
                   ).json()[0]["id"] == stream_id

    assert collect_pass().stored == 1
    assert collect_pass().stored == 1
    stats = api.get(f"/streams/{stream_id}/stats").json()
    assert len(stats) == 2
    assert stats[0]["ts"] < stats[1]["ts"]
    assert stats[1]["downloaded"] >= stats[0]["downloaded"] > 0
    since = api.get(f"/streams/{stream_id}/stats", data={"since": stats[1]["ts"]}).json()
    assert since == stats[1:]

    assert api.post("/gc").status_code == 200
    assert len(api.get("/engines").json()) == 1, "an engine with a started stream stays"

    ended = api.post("/events/stream_ended", {"stream_id": stream_id, "reason": "handler_exit"})
    assert ended.json()["updated"] is True
    assert ended.json()["stream"]["ended_reason"] == "handler_exit"
    # The proxy stops the engine's session, as acexy does when its player leaves.
    httpx.get(session["command_url"], params={"method": "stop"}, timeout=5)

    # Once the grace period of 1 s has run out, the cleanup pass removes it.
    wait_for(lambda: api.post("/gc").json() == {"status": "ok"} and api.get("/engines").json() == [],
             timeout=15, interval=0.2)
    assert not fleet.containers.list(all=True, filters={"id": engine["container_id"]})
    # The stream and its history outlive the engine.
    assert api.get("/streams?status=ended").json()[0]["id"] == stream_id
    assert len(api.get(f"/streams/{stream_id}/stats").json()) == 2
