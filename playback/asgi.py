"""GET /ace/getstream on the orchestrator itself, as a plain ASGI application beside Django's.

Not a Django view: a player's response lasts as long as it watches, and a view would hold a
request thread (and one of the few request slots) all that time, and could not hear the player
leave (STACK.md). Here each player is a task on the event loop; the engine side (database,
Docker, the engine's API) runs in threads.

Which process plays: one engine session per content needs one place that holds the content's
ring. The first web process (the only one by default) plays every content; with WEB_PROCESSES=2
or more, the others relay their players' requests to it (PLAYBACK_OWNER_URL, on a port of its own
on 127.0.0.1), so a player may land on any of them and still share the one session. Why not a
claim per content in the database with relays between every pair of processes: more to hand
over when a process dies, for a gain a single process does not need (bench/playback.py: the CPU
per byte is small enough that one process serves hundreds of players).

Headers go out with the first byte, so a failure before it is an HTTP error with a JSON body.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from urllib.parse import parse_qs

from django.conf import settings

from core import api_key
from core.config import conf
from core.errors import OrchestratorError

from . import content as contents
from .flow import Flow
from .hub import StartFailed, StartTimeout, TooManyPlayers
from .registry import ProxyCapacity, registry
from .relay import relay

log = logging.getLogger(__name__)

PATHS = frozenset({"/ace/getstream"})
MAX_QUERY_BYTES = 4096
RELAY_HEADER = b"x-orchestrator-relay"
TS_HEADERS = [(b"content-type", b"video/mp2t"), (b"cache-control", b"no-store"),
              (b"x-content-type-options", b"nosniff")]


class PlaybackRefused(OrchestratorError):
    """Refused before any byte: the status and message say why."""

    def __init__(self, status: int, message: str, code: str = "refused"):
        super().__init__(message, code=code)
        self.status = status


def relay_token() -> str:
    """What the relaying web processes prove themselves with to the playing one."""
    return hmac.new(settings.SECRET_KEY.encode(), b"playback-relay", "sha256").hexdigest()


def with_playback(django_http):
    """The site's HTTP application: players' routes here, everything else to Django."""

    async def application(scope, receive, send):
        if scope["type"] == "http" and scope["path"] in PATHS:
            await serve(scope, receive, send)
        else:
            await django_http(scope, receive, send)

    return application


async def _answer(send, status: int, body: dict) -> None:
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


def _authorize(headers: dict[bytes, bytes], query: dict[str, list[str]]) -> None:
    """With API_KEY set, a player gives API_KEY or STREAM_KEY, as `Authorization: Bearer` or
    `?key=` (accepted on playback routes only). Compared in constant time."""
    relayed = headers.get(RELAY_HEADER)
    if relayed is not None and hmac.compare_digest(relayed, relay_token().encode()):
        return  # the relaying process checked the key
    api = api_key.current()
    if api is None:
        return  # the operator opened the API (OPEN_API): playback too
    keys = [key for key in (api, conf().STREAM_KEY) if key]
    scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    given = token.strip() if scheme.lower() == "bearer" else ""
    given = given or (query.get("key") or [""])[0]
    if not given:
        raise PlaybackRefused(401, "missing bearer token", code="unauthorized")
    if not any(hmac.compare_digest(given.encode(), key.encode()) for key in keys):
        raise PlaybackRefused(403, "invalid token", code="forbidden")


async def serve(scope, receive, send) -> None:
    headers = dict(scope.get("headers") or [])
    raw_query = scope.get("query_string", b"")
    try:
        if scope["method"] not in ("GET", "HEAD"):
            raise PlaybackRefused(405, "use GET", code="method_not_allowed")
        if len(raw_query) > MAX_QUERY_BYTES:
            raise PlaybackRefused(414, f"the query string is over {MAX_QUERY_BYTES} bytes",
                                  code="uri_too_long")
        query = parse_qs(raw_query.decode("latin-1"), keep_blank_values=True)
        _authorize(headers, query)
        content = contents.parse(query)
        if scope["method"] == "HEAD":
            await send({"type": "http.response.start", "status": 200, "headers": TS_HEADERS})
            await send({"type": "http.response.body", "body": b""})
            return
        owner = conf().PLAYBACK_OWNER_URL
        if owner and RELAY_HEADER not in headers:
            log.info("relaying a player of %s to the web process that plays it", content.key)
            await relay(owner, raw_query, relay_token(), receive, send)
            return
        hub = await registry.hub_for(content)
        try:
            seat = hub.admit()
        except TooManyPlayers as exc:
            raise ProxyCapacity(str(exc)) from None
        try:
            await hub.wait_ready()
        except BaseException:
            seat.release()
            raise
    except OrchestratorError as exc:
        await _answer(send, exc.status, {"detail": exc.detail()})
        return
    except StartTimeout as exc:
        await _answer(send, 504, {"detail": str(exc)})
        return
    except StartFailed as exc:
        cause = exc.cause
        if isinstance(cause, OrchestratorError):
            await _answer(send, cause.status, {"detail": cause.detail()})
        else:
            await _answer(send, 502, {"detail": f"the stream could not start: {cause}"})
        return
    flow = Flow.for_send(send)
    await send({"type": "http.response.start", "status": 200, "headers": TS_HEADERS})
    await hub.serve(send, receive, flow, seat)


def start_owner() -> None:
    """Called once when a web process that plays contents starts: end what its previous run
    left playing (in a thread; the first player waits for it)."""
    import threading

    if conf().PLAYBACK_OWNER_URL:
        return  # this process relays; the owner does the recovery
    threading.Thread(target=registry.recover, name="playback-recover", daemon=True).start()


__all__ = ["with_playback", "start_owner", "PATHS", "asyncio"]
