"""Whole MPEG-TS packets out of arbitrary upstream reads.

An engine's HTTP body arrives in reads of any size, and a player must only ever get whole 188-byte
packets: a player joins at a packet boundary, and a failover splices the next engine's bytes after
the last whole packet of the previous one. The `Aligner` of one upstream session cuts its reads into
whole packets. It first locks on to the stream (the sync byte 0x47 recurring every 188 bytes, several
times over, so a 0x47 inside a payload is not mistaken for a boundary); once locked it only checks
the sync byte of each packet, with one strided slice and one count, both done in C, so a read costs a
few C calls whatever its size. A lost sync (a corrupt stretch) drops the bytes up to the next lock; a
body without any lock within MAX_UNSYNCED bytes is not a transport stream (an error page, a wrong
format, garbage) and raises `NotTransportStream`, so the hub fails the session over instead of fanning
garbage out to every player.

A new upstream session gets a new Aligner: the partial packet at the end of the old one is dropped,
never glued to the start of the new one.
"""

from __future__ import annotations

PACKET = 188
SYNC = 0x47
# Sync bytes in a row, 188 bytes apart, that make a lock. A payload byte of 0x47 passes one check in
# 256; five in a row at the right spacing by chance is about one in 4e9 per candidate offset, while
# the cost is only that many packets of look-ahead when (re)locking.
LOCK_PACKETS = 5
# Bytes dropped without finding a lock before the body is declared not TS. 64 KiB is about 350
# packets: far more than any corrupt stretch a live engine produces, and at a typical 512 KiB/s it
# is decided in an eighth of a second, so garbage never holds players for long.
MAX_UNSYNCED = 64 * 1024

_SYNC_BYTE = bytes((SYNC,))


class NotTransportStream(Exception):
    """The upstream body is not MPEG-TS: no lock within MAX_UNSYNCED bytes. `packets` holds the whole
    packets that the failing feed still produced before the garbage (possibly empty), so a caller
    loses no good packet of a session that turns bad."""

    def __init__(self, message: str, packets: bytes = b""):
        super().__init__(message)
        self.packets = packets


class Aligner:
    """Turns one upstream session's reads into whole, sync-checked TS packets.

    `feed(data)` returns the complete packets available (a multiple of PACKET bytes, possibly
    empty) and keeps the rest for the next call. `dropped` counts the bytes thrown away while
    (re)locking, `relocks` the times a lock was lost.
    """

    __slots__ = ("_pending", "_locked", "_unsynced", "_lock_packets", "_max_unsynced", "dropped", "relocks")

    def __init__(self, lock_packets: int = LOCK_PACKETS, max_unsynced: int = MAX_UNSYNCED):
        if lock_packets < 1:
            raise ValueError("lock_packets must be at least 1")
        self._pending = b""
        self._locked = False
        self._unsynced = 0  # bytes dropped since the lock was lost (or since the start)
        self._lock_packets = lock_packets
        self._max_unsynced = max_unsynced
        self.dropped = 0
        self.relocks = 0

    @property
    def locked(self) -> bool:
        return self._locked

    def feed(self, data: bytes) -> bytes:
        buf = self._pending + data if self._pending else bytes(data)
        out = []
        while True:
            if not self._locked:
                try:
                    buf = self._lock(buf)
                except NotTransportStream as exc:
                    self._pending = b""
                    exc.packets = b"".join(out)
                    raise
                if not self._locked:
                    break
            count = len(buf) // PACKET
            whole = count * PACKET
            syncs = buf[0:whole:PACKET]
            if syncs.count(SYNC) == count:
                # The common case: every packet in place. No copy when the read was exactly aligned.
                out.append(buf if whole == len(buf) else buf[:whole])
                buf = buf[whole:]
                break
            # Sync lost at packet `good`: keep the packets before it, look for a new lock after it.
            good = count - len(syncs.lstrip(_SYNC_BYTE))
            if good:
                out.append(buf[:good * PACKET])
            buf = buf[good * PACKET:]
            self._locked = False
            self.relocks += 1
        self._pending = buf
        return out[0] if len(out) == 1 else b"".join(out)

    def _lock(self, buf: bytes) -> bytes:
        """Find the first offset where LOCK_PACKETS sync bytes recur; drop what precedes it. Returns
        the rest of buf (starting at the lock, or the tail that could still start one)."""
        span = (self._lock_packets - 1) * PACKET  # a lock at p needs buf[p + span]
        want = _SYNC_BYTE * self._lock_packets
        last = len(buf) - span - 1  # the last offset that can be checked now
        at = buf.find(_SYNC_BYTE, 0, last + 1) if last >= 0 else -1
        while at != -1:
            if buf[at:at + span + 1:PACKET] == want:
                self._drop(at)
                self._locked = True
                self._unsynced = 0
                return buf[at:] if at else buf
            at = buf.find(_SYNC_BYTE, at + 1, last + 1)
        keep_from = max(0, last + 1)
        self._drop(keep_from)
        return buf[keep_from:] if keep_from else buf

    def _drop(self, count: int) -> None:
        if not count:
            return
        self.dropped += count
        self._unsynced += count
        if self._unsynced > self._max_unsynced:
            raise NotTransportStream(
                f"no MPEG-TS sync within {self._unsynced} bytes ({self._lock_packets} sync bytes "
                f"{PACKET} bytes apart)")
