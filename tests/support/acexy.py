"""acexy (the Go proxy) as our API sees it: a decoder as strict as Go's `encoding/json` on acexy's
structs, and its engine choice, so tests replay what acexy of December 2025 (7e82040) does.

Go fails the whole body on one wrong type: a float or a string where it wants an int, an int
where it wants a bool, a timestamp without a UTC offset. `decode` fails the same way (and also
on fields SPEC requires but that are missing, which Go would silently zero).
"""

from __future__ import annotations

import re
from datetime import datetime

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


class Int:
    pass


class Bool:
    pass


class Str:
    pass


class Time:
    """RFC 3339 with an offset, or null."""


class Nullable:
    def __init__(self, kind):
        self.kind = kind


def _fail(path: str, wanted: str, value) -> None:
    raise AssertionError(f"{path}: Go wants {wanted}, got {value!r}")


def decode(value, shape, path: str = "$"):
    """Check `value` against `shape` (a dict of field shapes, [shape] for a list, or one of the
    kinds above); returns it unchanged."""
    if isinstance(shape, Nullable):
        return None if value is None else decode(value, shape.kind, path)
    if shape is Int:
        if type(value) is not int:
            _fail(path, "an integer", value)
    elif shape is Bool:
        if type(value) is not bool:
            _fail(path, "a boolean", value)
    elif shape is Str:
        if type(value) is not str:
            _fail(path, "a string", value)
    elif shape is Time:
        if value is not None and (type(value) is not str or not RFC3339.match(value)):
            _fail(path, "an RFC 3339 time with an offset, or null", value)
    elif isinstance(shape, list):
        if type(value) is not list:
            _fail(path, "an array", value)
        for number, item in enumerate(value):
            decode(item, shape[0], f"{path}[{number}]")
    elif isinstance(shape, dict):
        if type(value) is not dict:
            _fail(path, "an object", value)
        for name, kind in shape.items():
            if name not in value:
                raise AssertionError(f"{path}.{name} is missing")
            decode(value[name], kind, f"{path}.{name}")
    else:
        raise TypeError(f"unknown shape {shape!r}")
    return value


PROVISION_ERROR = {"error": Str, "code": Str, "message": Str,
                   "recovery_eta_seconds": Nullable(Int), "can_retry": Bool, "should_wait": Bool}
BLOCKED_DETAILS = {key: kind for key, kind in PROVISION_ERROR.items() if key != "error"}
STATUS = {
    "status": Str,
    "engines": {"total": Int, "running": Int, "healthy": Int, "unhealthy": Int},
    "streams": {"active": Int, "total": Int},
    "capacity": {"total": Int, "used": Int, "available": Int, "max_replicas": Int,
                 "min_replicas": Int},
    "vpn": {"enabled": Bool, "connected": Bool, "health": Str},
    "provisioning": {"can_provision": Bool, "circuit_breaker_state": Str, "last_failure": Time,
                     "blocked_reason": Nullable(Str),
                     "blocked_reason_details": Nullable(BLOCKED_DETAILS)},
    "timestamp": Time,
}
ENGINE = {"container_id": Str, "container_name": Str, "host": Str, "port": Int,
          "labels": {}, "forwarded": Bool, "first_seen": Time, "last_seen": Time,
          "health_status": Str, "last_health_check": Time, "last_stream_usage": Time,
          "streams": [Str]}
STREAM = {"id": Str, "key_type": Str, "key": Str, "container_id": Str,
          "playback_session_id": Str, "stat_url": Str, "command_url": Str, "is_live": Bool,
          "started_at": Time, "ended_at": Time, "status": Str}
PROVISIONED = {"container_id": Str, "container_name": Str, "host_http_port": Int,
               "container_http_port": Int, "container_https_port": Int}


def _usage_key(engine: dict):
    """Oldest `last_stream_usage` first; never used (null) is the oldest of all."""
    usage = engine["last_stream_usage"]
    return datetime.min if usage is None else datetime.fromisoformat(usage.replace("Z", "+00:00")
                                                                      ).replace(tzinfo=None)


def choose_engine(engines: list[dict], started: dict[str, int],
                  max_streams_per_engine: int = 1) -> dict | None:
    """acexy 7e82040's choice among engines below its per-engine stream limit: healthy first,
    then fewer started streams, then the one holding the forwarded port, then the oldest last
    use; ties keep the list's order (ours is sorted by port). None: it provisions instead."""
    room = [engine for engine in engines
            if started.get(engine["container_id"], 0) < max_streams_per_engine]
    ranked = sorted(enumerate(room), key=lambda pair: (
        pair[1]["health_status"] != "healthy",
        started.get(pair[1]["container_id"], 0),
        not pair[1]["forwarded"],
        _usage_key(pair[1]),
        pair[0],
    ))
    return ranked[0][1] if ranked else None


class ProvisioningRefused(Exception):
    def __init__(self, status_code: int, detail: dict):
        super().__init__(f"{status_code}: {detail}")
        self.status_code, self.detail = status_code, detail


class Proxy:
    """acexy 7e82040's calls to the orchestrator, each with its 3 s timeout: the status without
    the key, everything else with it; an engine is chosen, or provisioned when none has room."""

    TIMEOUT_S = 3

    def __init__(self, base_url: str, key: str, max_streams_per_engine: int = 1):
        import httpx

        self.http = httpx.Client(base_url=base_url, timeout=self.TIMEOUT_S,
                                 headers={"Authorization": f"Bearer {key}"})
        self.open = httpx.Client(base_url=base_url, timeout=self.TIMEOUT_S)
        self.limit = max_streams_per_engine

    def status(self) -> dict:
        response = self.open.get("/orchestrator/status")
        return decode(response.json(), STATUS)

    def engines(self) -> tuple[list[dict], dict[str, int]]:
        engines = decode(self.http.get("/engines").json(), [ENGINE])
        started = {engine["container_id"]: len(decode(self.http.get("/streams", params={
            "container_id": engine["container_id"], "status": "started"}).json(), [STREAM]))
            for engine in engines}
        return engines, started

    def engine_port(self) -> int:
        engines, started = self.engines()
        chosen = choose_engine(engines, started, self.limit)
        if chosen is not None:
            return chosen["port"]
        status = self.status()["provisioning"]
        if not status["can_provision"]:
            raise ProvisioningRefused(503, status["blocked_reason_details"])
        response = self.http.post("/provision/acestream", json={"labels": {}, "env": {}})
        if response.status_code != 200:
            detail = response.json()["detail"]
            raise ProvisioningRefused(response.status_code, decode(detail, PROVISION_ERROR))
        engine = decode(response.json(), PROVISIONED)
        self._wait_usable(engine["container_id"], engine["host_http_port"])
        return engine["host_http_port"]

    def _wait_usable(self, container_id: str, port: int) -> None:
        """acexy waits 5 s (and 5 s more if the engine is not listed yet) before it plays; here
        the same 10 s bound the conditions it waits for: listed, and the engine answering."""
        import time

        import httpx

        def answers() -> bool:
            try:
                return httpx.get(f"http://localhost:{port}/server/api",
                                 params={"api_version": 3, "method": "get_status"},
                                 timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        deadline = time.monotonic() + 10
        while not (any(e["container_id"] == container_id for e in self.engines()[0]) and answers()):
            assert time.monotonic() < deadline, f"{container_id} was not usable within 10 s"
            time.sleep(0.2)

    def play(self, key: str) -> str:
        """Start a player of `key`: the engine's session, then stream_started; the stream id."""
        import httpx

        port = self.engine_port()
        session = httpx.get(f"http://localhost:{port}/ace/getstream",
                            params={"id": key, "format": "json"}, timeout=10).json()["response"]
        stream_id = f"{key}|{session['playback_session_id']}"
        response = self.http.post("/events/stream_started", json={
            "engine": {"host": "localhost", "port": port},
            "stream": {"key_type": "content_id", "key": key},
            "session": {"playback_session_id": session["playback_session_id"],
                        "stat_url": session["stat_url"], "command_url": session["command_url"],
                        "is_live": 1},
            "labels": {"stream_id": stream_id},
        })
        assert response.status_code == 200, response.text
        decode(response.json(), STREAM)
        return stream_id

    def end(self, stream_id: str, reason: str) -> dict:
        response = self.http.post("/events/stream_ended",
                                  json={"stream_id": stream_id, "reason": reason})
        assert response.status_code == 200, response.text
        return response.json()

    def close(self) -> None:
        self.http.close()
        self.open.close()
