"""A paced stream-event load, shared by the load test and bench/events.py.

The client is a few lines of HTTP/1.1 over keep-alive asyncio connections rather than httpx in a
thread pool: it runs on the same cores as the server it measures, and httpx with 32 threads spent
about 1.5 ms of CPU per request there (a quarter of a core at 200 events a second), time the
server then did not have.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


class _Connection:
    """One keep-alive connection; requests on it go one after another."""

    def __init__(self, host: str, port: int, api_key: str):
        self.host, self.port = host, port
        self.headers = (f"Host: {host}:{port}\r\nAuthorization: Bearer {api_key}\r\n"
                        "Content-Type: application/json\r\n")
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, path: str, body: dict) -> int:
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        payload = json.dumps(body).encode()
        writer.write(f"POST {path} HTTP/1.1\r\n{self.headers}Content-Length: {len(payload)}\r\n\r\n"
                     .encode() + payload)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            headers = dict(line.split(b":", 1) for line in head.split(b"\r\n")[1:] if b":" in line)
            headers = {name.strip().lower(): value.strip() for name, value in headers.items()}
            if b"content-length" in headers:
                await reader.readexactly(int(headers[b"content-length"]))
            else:  # chunked
                while size := int((await reader.readline()).strip(), 16):
                    await reader.readexactly(size + 2)
                await reader.readline()
            if headers.get(b"connection") == b"close":
                self.close()
        except Exception:
            self.close()
            raise
        return status

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


@dataclass
class EventLoad:
    """`rate` events a second for `duration` seconds: each stream is started, then ended, with a
    unique id, so afterwards every id must exist exactly once and be ended."""

    base_url: str
    api_key: str
    engine_port: int
    rate: float
    duration: float
    prefix: str = "load"
    statuses: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    stream_ids: list[str] = field(default_factory=list)

    def _body(self, number: int) -> dict:
        session = f"s{number}"
        key = f"{self.prefix}-{number}"
        base = f"http://localhost:{self.engine_port}"
        return {
            "engine": {"host": "localhost", "port": self.engine_port},
            "stream": {"key_type": "content_id", "key": key},
            "session": {"playback_session_id": session, "is_live": 1,
                        "stat_url": f"{base}/ace/stat/{key}/{session}",
                        "command_url": f"{base}/ace/cmd/{key}/{session}"},
            "labels": {"stream_id": key},
        }

    async def _send(self, idle: asyncio.Queue, number: int) -> None:
        connection = await idle.get()
        stream_id = f"{self.prefix}-{number}"
        try:
            for path, body in (("/events/stream_started", self._body(number)),
                               ("/events/stream_ended", {"stream_id": stream_id, "reason": "load"})):
                began = time.perf_counter()
                try:
                    status = await asyncio.wait_for(connection.post(path, body), timeout=30)
                except (OSError, ValueError, asyncio.IncompleteReadError, TimeoutError):
                    status = 0
                self.statuses.append(status)
                self.latencies.append(time.perf_counter() - began)
            self.stream_ids.append(stream_id)
        finally:
            idle.put_nowait(connection)

    async def _run(self, connections: int) -> None:
        parts = urlsplit(self.base_url)
        idle: asyncio.Queue = asyncio.Queue()
        for _ in range(connections):
            idle.put_nowait(_Connection(parts.hostname, parts.port, self.api_key))
        streams = int(self.rate * self.duration / 2)
        interval = 2 / self.rate
        start = time.perf_counter()
        sending = []
        for number in range(streams):
            delay = start + number * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sending.append(asyncio.create_task(self._send(idle, number)))
        await asyncio.gather(*sending)
        self.elapsed = time.perf_counter() - start
        while not idle.empty():
            idle.get_nowait().close()

    def run(self, connections: int = 32) -> EventLoad:
        """Two events (start, end) per stream: `rate` / 2 streams a second, each stream on the
        next free one of `connections` keep-alive connections."""
        asyncio.run(self._run(connections))
        return self
