"""Checks, byte for byte, the MPEG-TS a player received from the engine simulator (directly or through
a proxy).

Every packet the simulator makes names its playback session and carries a per-session sequence
number (layout in tests/simulators/engine_sim.py, whose constants this module reads so the two cannot
drift apart). A player's bytes therefore tell exactly what it got: `verify(data)` splits them into runs
of packets of one session and fails, saying where and what, on anything a correct proxy can never
produce: a start or a switch in the middle of a packet (checked down to the padding, since a spliced
packet can keep a valid header), a packet that is not the simulator's, a missing, repeated or
reordered packet, a broken continuity counter. After a cut it finds the next packet and goes on, so one
bad splice is one problem in the message, not a thousand.

    summary = verify(received)
    assert [run.session_id for run in summary.runs] == [first_session, second_session]
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.simulators.engine_sim import (
    TS_CC_AT,
    TS_MAGIC,
    TS_MAGIC_AT,
    TS_PACKET_SIZE,
    TS_PADDING,
    TS_PADDING_AT,
    TS_PID,
    TS_SEQ_AT,
    TS_SESSION_AT,
    TS_SYNC,
    PacketMaker,
)

# Problems listed in one failure message; the rest are counted.
PROBLEMS_SHOWN = 10


@dataclass(frozen=True)
class Run:
    """Consecutive packets of one session: seq first_seq .. last_seq, starting at byte `offset`."""

    session_id: str  # the playback session id, 32 hex digits
    first_seq: int
    last_seq: int
    packets: int
    offset: int


@dataclass(frozen=True)
class Summary:
    runs: tuple[Run, ...]
    packets: int  # packets received in all
    size: int  # bytes received

    @property
    def sessions(self) -> list[str]:
        """Session ids in the order they first appear."""
        return list(dict.fromkeys(run.session_id for run in self.runs))

    def __str__(self) -> str:
        runs = ", ".join(
            f"{run.session_id[:8]} seq {run.first_seq}..{run.last_seq} ({run.packets})" for run in self.runs
        )
        return f"{self.packets} packets in {len(self.runs)} run(s): {runs or 'none'}"


class StreamError(AssertionError):
    """What is wrong with received bytes; `problems` lists each one, `summary` what was readable."""

    def __init__(self, problems: list[str], summary: Summary):
        self.problems = problems
        self.summary = summary
        shown = problems[:PROBLEMS_SHOWN]
        more = len(problems) - len(shown)
        lines = [f"the received TS is not what the simulator sent ({summary.size} bytes):", *shown]
        if more:
            lines.append(f"... and {more} more problems")
        lines.append(f"readable: {summary}")
        super().__init__("\n  ".join(lines))


def verify(data: bytes | bytearray | memoryview) -> Summary:
    """The runs of packets in `data`, or a StreamError (an AssertionError) naming every problem."""
    data = bytes(data)
    size = len(data)
    problems: list[str] = []
    runs: list[Run] = []
    current = None  # [session_id, first_seq, last_seq, packets, offset, last_cc] of the open run
    good = 0
    offset = 0
    while offset + TS_PACKET_SIZE <= size:
        packet = data[offset:offset + TS_PACKET_SIZE]
        wrong = _packet_problem(packet)
        if wrong:
            resume = _next_packet(data, offset + 1)
            problems.append(_cut(offset, resume, size, wrong, good))
            current = None
            offset = resume
            continue
        session_id = packet[TS_SESSION_AT:TS_SESSION_AT + 16].hex()
        seq = int.from_bytes(packet[TS_SEQ_AT:TS_SEQ_AT + 8], "big")
        cc = packet[TS_CC_AT] & 0x0F
        if current is not None and current[0] == session_id:
            last_seq, last_cc = current[2], current[5]
            if seq != last_seq + 1:
                problems.append(f"byte {offset}: session {session_id[:8]} seq {seq} after seq {last_seq}: "
                                + _seq_jump(last_seq, seq))
                current = None
            elif cc != (last_cc + 1) & 0x0F:
                problems.append(f"byte {offset}: session {session_id[:8]} seq {seq}: continuity counter "
                                f"{cc} after {last_cc} (expected {(last_cc + 1) & 0x0F})")
        if current is not None and current[0] == session_id:
            current[2], current[3], current[5] = seq, current[3] + 1, cc
        else:
            current = [session_id, seq, seq, 1, offset, cc]
            runs.append(current)
        good += 1
        offset += TS_PACKET_SIZE
    if offset < size:
        problems.append(f"the last {size - offset} bytes (from byte {offset}) are a cut packet: "
                        f"{size} bytes is not a whole number of {TS_PACKET_SIZE}-byte packets")
    summary = Summary(runs=tuple(Run(*run[:5]) for run in runs), packets=good, size=size)
    if problems:
        raise StreamError(problems, summary)
    return summary


def make_packets(session_id: str, first_seq: int, count: int) -> bytes:
    """Packets first_seq .. first_seq+count-1 of a session, exactly as the simulator sends them."""
    return PacketMaker(session_id).chunk(first_seq, count)


def _packet_problem(packet: bytes) -> str | None:
    if packet[0] != TS_SYNC:
        return f"sync byte 0x{packet[0]:02x} instead of 0x{TS_SYNC:02x}"
    pid = (packet[1] & 0x1F) << 8 | packet[2]
    if pid != TS_PID:
        return f"PID 0x{pid:x} instead of 0x{TS_PID:x}"
    if packet[3] & 0x30 != 0x10:
        return f"adaptation field control {(packet[3] >> 4) & 3} instead of 1 (payload only)"
    if packet[TS_MAGIC_AT:TS_MAGIC_AT + len(TS_MAGIC)] != TS_MAGIC:
        return f"payload starts {packet[TS_MAGIC_AT:TS_MAGIC_AT + 4]!r} instead of the magic {TS_MAGIC!r}"
    if packet[TS_PADDING_AT:] != TS_PADDING:
        # The end of one packet and the start of another pass every check above; the padding does not.
        wrong_at = next(i for i, byte in enumerate(packet) if i >= TS_PADDING_AT and byte != 0xFF)
        return f"byte {wrong_at} of the packet is 0x{packet[wrong_at]:02x}, not padding (packets spliced?)"
    return None


def _next_packet(data: bytes, start: int) -> int:
    """Offset of the next thing that looks like one of our packets (sync byte, then the magic), or
    the end of data: where checking can go on after a cut, so one cut is one problem."""
    at = data.find(TS_MAGIC, start + TS_MAGIC_AT)
    while at != -1:
        if data[at - TS_MAGIC_AT] == TS_SYNC:
            return at - TS_MAGIC_AT
        at = data.find(TS_MAGIC, at + 1)
    return len(data)


def _cut(offset: int, resume: int, size: int, wrong: str, good: int) -> str:
    where = "the data does not start on a packet boundary" if offset == 0 else (
        f"after {good} good packets, a packet is cut or foreign")
    if resume >= size:
        return (f"byte {offset}: {wrong}; {where}, and no packet of the simulator follows "
                f"({size - offset} bytes to the end)")
    return (f"byte {offset}: {wrong}; {where}: {resume - offset} bytes that are not whole packets, "
            f"packets go on at byte {resume}")


def _seq_jump(last_seq: int, seq: int) -> str:
    if seq > last_seq + 1:
        missing = seq - last_seq - 1
        return f"{missing} packet{'s' if missing > 1 else ''} missing"
    if seq == last_seq:
        return "a repeated packet"
    return "out of order (back in the stream)"
