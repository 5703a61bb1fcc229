"""Players of /ace/getstream for the playback tests and bench: raw HTTP/1.1 on asyncio streams (as
VLC or Kodi open it), so hundreds of them cost the machine little, each collecting what it got."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field


@dataclass
class Player:
    base: str  # host:port of the orchestrator
    query: str  # e.g. "id=<40 hex>&key=..."
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    received: bytearray = field(default_factory=bytearray)
    first_byte_s: float | None = None  # seconds from connect to the first body byte
    error_body: bytes = b""
    ended: bool = False
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        host, port = self.base.rsplit(":", 1)
        began = time.monotonic()
        self.reader, self.writer = await asyncio.open_connection(host, int(port))
        self.writer.write(f"GET /ace/getstream?{self.query} HTTP/1.1\r\nHost: {self.base}\r\n"
                          "User-Agent: VLC/3.0\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {k.strip().lower(): v.strip() for k, _, v in
                        (line.partition(":") for line in lines[1:] if line)}
        if self.status != 200:
            self.error_body = await self._read_error()
            self.ended = True
            return
        self._began = began

    async def _read_error(self) -> bytes:
        length = int(self.headers.get("content-length", "0"))
        return await self.reader.readexactly(length) if length else await self.reader.read()

    def detail(self):
        return json.loads(self.error_body)["detail"]

    async def read_until(self, size: int, timeout: float = 30) -> None:
        """Read the chunked body until `size` bytes of it came (or it ends)."""
        try:
            await self._read(size, timeout)
        except (ConnectionError, asyncio.IncompleteReadError):
            self.ended = True  # cut off, or the connection aborted

    async def _read(self, size: int, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while len(self.received) < size and not self.ended:
                line = await self.reader.readline()
                if not line:
                    self.ended = True
                    return
                length = int(line.strip() or b"0", 16)
                if length == 0:
                    self.ended = True
                    return
                data = await self.reader.readexactly(length + 2)
                if self.first_byte_s is None:
                    self.first_byte_s = time.monotonic() - self._began
                self.received += data[:-2]

    async def read_to_end(self, timeout: float = 30) -> None:
        await self.read_until(1 << 62, timeout)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
