"""The shared buffer of one content: what its engine sent lately, read by every player at its own pace.

Offsets are absolute byte counts since the ring began: `start` is the oldest byte still held, `end`
the number of bytes ever appended. A player is nothing but an offset, so players cost the ring no
memory and never slow each other: the ring drops its oldest chunks to stay within its capacity, and a
player whose offset was dropped gets `FellBehind` (the hub cuts it off) instead of holding the
memory or the others back.

Chunks are appended as they come out of the aligner (whole 188-byte packets), so every chunk
boundary, and every offset a reader is at, is a packet boundary. The cost is per chunk and per read,
never per packet: a read is two bisections, one list slice and one `b"".join`, all in C.

Readers wait for data with `wait_beyond(offset)`, which wakes a waiter only when the end passes the
offset it asked for: a player batching its sends waits for "64 KiB more", and the hundreds of small
appends of a busy stream do not wake every player each time.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from bisect import bisect_left, bisect_right

from playback.packets import PACKET

# Dropped slots at the head of the chunk lists before they are deleted; deleting when the dead head
# is also half of the list keeps it amortised O(1) per chunk.
_COMPACT_MIN = 64


class FellBehind(Exception):
    """The offset asked for has already been dropped from the ring."""

    def __init__(self, offset: int, start: int):
        super().__init__(f"offset {offset} is behind the ring, which starts at {start}")
        self.offset = offset
        self.start = start


class Ring:
    """At most `capacity_bytes` of a stream (the newest chunk is always kept, whatever its size)."""

    def __init__(self, capacity_bytes: int):
        if capacity_bytes < PACKET:
            raise ValueError(f"capacity_bytes must hold at least one packet ({PACKET} bytes)")
        self.capacity = capacity_bytes
        self.start = 0
        self.end = 0
        self.closed = False
        self._chunks: list[bytes] = []
        self._starts: list[int] = []  # absolute offset of each chunk, ascending
        self._head = 0  # index of the oldest chunk still held
        self._waiters: list[tuple[int, int, asyncio.Future]] = []  # heap of (offset, tie, future)
        self._tie = itertools.count()
        self._prune_at = _COMPACT_MIN

    def __len__(self) -> int:
        """Bytes held."""
        return self.end - self.start

    @property
    def chunks(self) -> int:
        """Chunks held."""
        return len(self._chunks) - self._head

    def append(self, chunk: bytes) -> None:
        if self.closed:
            raise RuntimeError("append to a closed ring")
        size = len(chunk)
        if not size:
            return
        if size % PACKET:
            raise ValueError(f"a chunk must be whole {PACKET}-byte packets, got {size} bytes")
        self._starts.append(self.end)
        self._chunks.append(chunk)
        self.end += size
        chunks, head = self._chunks, self._head
        last = len(chunks) - 1
        while self.end - self.start > self.capacity and head < last:
            self.start += len(chunks[head])
            chunks[head] = b""  # free it now, not at the next compaction
            head += 1
        if head >= _COMPACT_MIN and head * 2 >= len(chunks):
            del chunks[:head]
            del self._starts[:head]
            head = 0
        self._head = head
        waiters = self._waiters
        while waiters and waiters[0][0] < self.end:
            future = heapq.heappop(waiters)[2]
            if not future.done():
                future.set_result(None)

    def join_offset(self) -> int:
        """Where a new reader starts: the start of the newest chunk, a packet boundary whose bytes
        are already here, so a player's first body goes out at once. The end if the ring is empty."""
        return self._starts[-1] if self._head < len(self._starts) else self.end

    def read(self, offset: int, max_bytes: int) -> bytes:
        """Up to max_bytes (rounded down to whole packets) from `offset`; b"" at the end.
        `offset` must be a packet boundary, as every offset a reader gets from the ring is."""
        if offset < self.start:
            raise FellBehind(offset, self.start)
        if offset >= self.end:
            return b""
        limit = min(self.end, offset + max_bytes - max_bytes % PACKET)
        if limit <= offset:
            raise ValueError(f"max_bytes must be at least one packet ({PACKET} bytes)")
        starts = self._starts
        first = bisect_right(starts, offset, self._head) - 1
        stop = bisect_left(starts, limit, first + 1)  # chunks [first, stop) overlap [offset, limit)
        parts = self._chunks[first:stop]
        tail = starts[stop - 1] + len(parts[-1]) - limit  # bytes of the last chunk beyond the limit
        if tail:
            parts[-1] = parts[-1][:-tail]
        skip = offset - starts[first]
        if skip:
            parts[0] = parts[0][skip:]
        # One part is returned as is (bytes.join does not copy a single bytes object).
        return b"".join(parts)

    async def wait_beyond(self, offset: int) -> None:
        """Return when end > offset, or the ring is closed."""
        if self.end > offset or self.closed:
            return
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (offset, next(self._tie), future))
        if len(self._waiters) > self._prune_at:
            self._prune()
        await future

    def _prune(self) -> None:
        """Drop waiters that gave up (a batching player's wait times out ten times a second while
        the stream stalls); amortised O(1) per wait."""
        self._waiters = [entry for entry in self._waiters if not entry[2].done()]
        heapq.heapify(self._waiters)
        self._prune_at = max(_COMPACT_MIN, 2 * len(self._waiters))

    def close(self) -> None:
        """No more data: wakes every waiter; what is held can still be read."""
        self.closed = True
        waiters, self._waiters = self._waiters, []
        for _, _, future in waiters:
            if not future.done():
                future.set_result(None)
