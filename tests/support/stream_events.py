"""What a proxy does around a stream, for the streams tests: provision an engine, play on it with
`format=json`, and report the stream the way acexy does."""

from __future__ import annotations

import httpx

from engines.models import Engine, State


def provision(api) -> dict:
    """An engine started through the API and ready to answer; its provisioning answer."""
    response = api.post("/provision/acestream", {"labels": {}, "env": {}, "wait_ready": True})
    assert response.status_code == 200, response.content
    return response.json()


def play(port: int, key: str) -> dict:
    """GET /ace/getstream?format=json on the engine, as acexy does: the engine's `response`."""
    answer = httpx.get(f"http://127.0.0.1:{port}/ace/getstream",
                       params={"id": key, "format": "json"}, timeout=5).json()
    assert answer["error"] is None, answer
    return answer["response"]


def acexy_started(session: dict, port: int, key: str, **changes) -> dict:
    """A stream_started body in acexy's shape: no container_id, host localhost, URLs on localhost
    (the engine builds them from the Host header acexy sent)."""
    as_localhost = {name: session[name].replace("127.0.0.1", "localhost")
                    for name in ("stat_url", "command_url")}
    body = {
        "engine": {"host": "localhost", "port": port},
        "stream": {"key_type": "content_id", "key": key},
        "session": {"playback_session_id": session["playback_session_id"],
                    "is_live": session["is_live"], **as_localhost},
        "labels": {},
    }
    body.update(changes)
    return body


def start_streams(api, port: int, count: int) -> list[str]:
    """`count` streams played on the engine at `port` and reported as acexy does; their ids."""
    ids = []
    for number in range(count):
        key = f"ch-{port}-{number}"
        response = api.post("/events/stream_started", acexy_started(play(port, key), port, key))
        assert response.status_code == 200, response.content
        ids.append(response.json()["id"])
    return ids


def fake_started(port: int, key: str = "k1", session_id: str = "s1", host: str = "localhost",
                 **changes) -> dict:
    """A well-formed stream_started body for an engine at host:port, without a real session."""
    body = {
        "engine": {"host": host, "port": port},
        "stream": {"key_type": "infohash", "key": key},
        "session": {
            "playback_session_id": session_id,
            "stat_url": f"http://{host}:{port}/ace/stat/{key}/{session_id}",
            "command_url": f"http://{host}:{port}/ace/cmd/{key}/{session_id}",
            "is_live": 1,
        },
        "labels": {},
    }
    body.update(changes)
    return body


def engine_record(port: int, name: str = "rec-1", **fields) -> Engine:
    """A managed engine known only to the database (no container): for tests of event matching
    and validation that never fetch anything from the engine."""
    defaults = {"container_id": f"cid-{name}", "container_name": name, "host": "127.0.0.1",
                "host_http_port": port, "container_http_port": port, "managed": True,
                "state": State.RUNNING}
    return Engine.objects.create(**{**defaults, **fields})
