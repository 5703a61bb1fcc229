"""Reading an engine's playback body: a plain HTTP/1.1 GET written with h11 on asyncio streams
(as the collector does), whatever the framing (length, chunked, or to the end), in reads of up to
READ_BYTES. httpx would do the same at several times the CPU per read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import h11

READ_BYTES = 256 * 1024
CONNECT_TIMEOUT_S = 5.0


class UpstreamRefused(Exception):
    """The engine answered the playback URL with something else than 200."""


async def body(url: str) -> AsyncIterator[bytes]:
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    async with asyncio.timeout(CONNECT_TIMEOUT_S):
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
    try:
        connection = h11.Connection(h11.CLIENT)
        writer.write(connection.send(h11.Request(method="GET", target=target, headers=[
            ("Host", parts.netloc), ("Accept", "*/*"), ("Connection", "close")])))
        writer.write(connection.send(h11.EndOfMessage()))
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                data = await reader.read(READ_BYTES)
                connection.receive_data(data)
            elif isinstance(event, h11.Response):
                if event.status_code != 200:
                    raise UpstreamRefused(f"the engine answered HTTP {event.status_code}")
            elif isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                return
    finally:
        writer.close()
