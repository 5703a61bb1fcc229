"""A web process that does not play contents passes its players to the one that does
(playback.asgi): the same request to the owner's own port on 127.0.0.1, and its answer copied to
the player as it comes, with the player's backpressure (playback.flow) and its disconnect."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit

import h11

from .flow import Flow

READ_BYTES = 256 * 1024
CONNECT_TIMEOUT_S = 5.0


async def relay(owner_url: str, raw_query: bytes, token: str, receive, send) -> None:
    parts = urlsplit(owner_url)
    target = "/ace/getstream" + (f"?{raw_query.decode('latin-1')}" if raw_query else "")
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    except (OSError, TimeoutError):
        body = b'{"detail": "the playing web process does not answer"}'
        await send({"type": "http.response.start", "status": 503,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})
        return
    listener = asyncio.create_task(_until_disconnect(receive))
    try:
        await _copy(reader, writer, target, token, send, listener)
    finally:
        listener.cancel()
        writer.close()


async def _until_disconnect(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _copy(reader, writer, target: str, token: str, send, listener: asyncio.Task) -> None:
    connection = h11.Connection(h11.CLIENT)
    writer.write(connection.send(h11.Request(method="GET", target=target, headers=[
        ("Host", "playback-owner"), ("X-Orchestrator-Relay", token), ("Connection", "close")])))
    writer.write(connection.send(h11.EndOfMessage()))
    flow: Flow | None = None
    started = False
    while not listener.done():
        event = connection.next_event()
        if event is h11.NEED_DATA:
            read = asyncio.ensure_future(reader.read(READ_BYTES))
            await asyncio.wait({read, listener}, return_when=asyncio.FIRST_COMPLETED)
            if not read.done():
                read.cancel()
                break  # the player left
            connection.receive_data(read.result())
        elif isinstance(event, h11.Response):
            flow = Flow.for_send(send)
            headers = [(name.lower(), value) for name, value in event.headers
                       if name.lower() in (b"content-type", b"cache-control", b"content-length")]
            await send({"type": "http.response.start", "status": event.status_code,
                        "headers": headers})
            started = True
        elif isinstance(event, h11.Data):
            await flow.writable()
            await send({"type": "http.response.body", "body": bytes(event.data), "more_body": True})
        elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
            break
    if started:
        if flow is not None:
            flow.close()
        with contextlib.suppress(Exception):
            await send({"type": "http.response.body", "body": b""})
