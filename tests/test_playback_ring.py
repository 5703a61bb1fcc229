"""The ring of one content: bounded memory, absolute offsets, reads across chunks on packet
boundaries, FellBehind for a reader whose bytes were dropped, and waits that wake only the readers
whose offset was passed."""

import asyncio

import pytest

from playback.packets import PACKET
from playback.ring import FellBehind, Ring
from tests.support.ts import make_packets, verify

SESSION = "a1" * 16


def packets(first_seq: int, count: int) -> bytes:
    return make_packets(SESSION, first_seq, count)


def test_offsets_are_absolute_and_memory_is_bounded():
    ring = Ring(10 * PACKET)
    seq = 0
    for count in (3, 4, 2, 5, 1, 6):
        ring.append(packets(seq, count))
        seq += count
        assert ring.end == seq * PACKET
        assert len(ring) <= 10 * PACKET
    # The oldest chunks went: what is held is the newest whole chunks within the capacity.
    assert ring.start == (3 + 4 + 2 + 5) * PACKET
    assert ring.chunks == 2
    summary = verify(ring.read(ring.start, 1 << 20))
    assert [(run.first_seq, run.last_seq) for run in summary.runs] == [(14, 20)]


def test_the_newest_chunk_is_kept_even_when_larger_than_the_capacity():
    ring = Ring(2 * PACKET)
    ring.append(packets(0, 1))
    ring.append(packets(1, 5))
    assert (ring.start, ring.end) == (PACKET, 6 * PACKET)
    assert ring.read(ring.start, 1 << 20) == packets(1, 5)


def test_a_reader_behind_the_start_fell_behind():
    ring = Ring(4 * PACKET)
    ring.append(packets(0, 4))
    ring.append(packets(4, 4))
    with pytest.raises(FellBehind) as caught:
        ring.read(0, 1 << 20)
    assert (caught.value.offset, caught.value.start) == (0, 4 * PACKET)
    assert ring.read(4 * PACKET, 1 << 20) == packets(4, 4)


def test_reads_join_chunks_and_cut_at_packet_boundaries():
    ring = Ring(1 << 20)
    for seq in range(0, 30, 3):
        ring.append(packets(seq, 3))
    # Across chunks, starting inside one at a packet boundary, ending inside another.
    data = ring.read(4 * PACKET, 10 * PACKET)
    assert data == packets(4, 10)
    # max_bytes that is not whole packets is rounded down.
    assert ring.read(0, 2 * PACKET + 100) == packets(0, 2)
    # One whole chunk comes back as the very object appended (no copy).
    chunk = packets(30, 3)
    ring.append(chunk)
    assert ring.read(30 * PACKET, 1 << 20) is chunk
    assert ring.read(ring.end, 1 << 20) == b""
    with pytest.raises(ValueError):
        ring.read(0, PACKET - 1)


def test_join_offset_is_the_start_of_the_newest_chunk():
    ring = Ring(1 << 20)
    assert ring.join_offset() == 0
    ring.append(packets(0, 7))
    ring.append(packets(7, 2))
    assert ring.join_offset() == 7 * PACKET
    assert ring.join_offset() % PACKET == 0


def test_only_whole_packets_are_accepted():
    ring = Ring(1 << 20)
    with pytest.raises(ValueError):
        ring.append(packets(0, 2)[:-1])
    ring.append(b"")
    assert ring.end == 0


def test_many_small_chunks_stay_bounded_and_readable():
    ring = Ring(50 * PACKET)
    for seq in range(5000):
        ring.append(packets(seq, 1))
    assert len(ring) == 50 * PACKET
    assert ring.chunks == 50
    assert len(ring._chunks) < 200  # dropped slots at the head are compacted away
    summary = verify(ring.read(ring.start, 1 << 20))
    assert [(run.first_seq, run.last_seq) for run in summary.runs] == [(4950, 4999)]


def test_wait_beyond_wakes_only_waiters_whose_offset_was_passed():
    async def scenario():
        ring = Ring(1 << 20)
        near = asyncio.create_task(ring.wait_beyond(0))
        far = asyncio.create_task(ring.wait_beyond(10 * PACKET))
        await asyncio.sleep(0)
        assert not near.done() and not far.done()
        ring.append(packets(0, 2))
        await asyncio.wait_for(near, 1)
        await asyncio.sleep(0)
        assert not far.done()
        ring.append(packets(2, 9))
        await asyncio.wait_for(far, 1)
        # Already beyond: returns at once.
        await asyncio.wait_for(ring.wait_beyond(0), 1)

    asyncio.run(scenario())


def test_close_wakes_every_waiter_and_keeps_what_is_held():
    async def scenario():
        ring = Ring(1 << 20)
        ring.append(packets(0, 3))
        waiters = [asyncio.create_task(ring.wait_beyond(ring.end + n)) for n in range(5)]
        await asyncio.sleep(0)
        ring.close()
        await asyncio.wait_for(asyncio.gather(*waiters), 1)
        await asyncio.wait_for(ring.wait_beyond(1 << 30), 1)
        assert ring.read(0, 1 << 20) == packets(0, 3)
        with pytest.raises(RuntimeError):
            ring.append(packets(3, 1))

    asyncio.run(scenario())


def test_waiters_that_gave_up_do_not_pile_up():
    async def scenario():
        ring = Ring(1 << 20)
        for _ in range(1000):
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0):
                    await ring.wait_beyond(0)
        assert len(ring._waiters) < 200

    asyncio.run(scenario())
