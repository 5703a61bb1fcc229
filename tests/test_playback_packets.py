"""The aligner: whole packets out of reads of any size, a lock found past a misaligned start, lost
sync found again after a corrupt stretch, and a body that is not TS refused."""

import os
import random

import pytest

from playback.packets import MAX_UNSYNCED, PACKET, Aligner, NotTransportStream
from tests.simulators.engine_sim import garbage
from tests.support.ts import make_packets, verify

SESSION = "b2" * 16


def feed_all(aligner: Aligner, pieces) -> bytes:
    out = []
    for piece in pieces:
        data = aligner.feed(piece)
        assert len(data) % PACKET == 0
        out.append(data)
    return b"".join(out)


def split_randomly(data: bytes, rng: random.Random, largest: int) -> list[bytes]:
    pieces, at = [], 0
    while at < len(data):
        size = rng.randint(1, largest)
        pieces.append(data[at:at + size])
        at += size
    return pieces


def test_aligned_reads_pass_through_without_a_copy():
    aligner = Aligner()
    chunk = make_packets(SESSION, 0, 20)
    assert aligner.feed(chunk) is chunk
    chunk = make_packets(SESSION, 20, 3)
    assert aligner.feed(chunk) is chunk
    assert aligner.dropped == 0


def test_packets_split_across_reads_come_out_whole():
    stream = make_packets(SESSION, 0, 500)
    for seed, largest in ((1, 7), (2, 300), (3, 5000)):
        out = feed_all(Aligner(), split_randomly(stream, random.Random(seed), largest))
        assert out == stream, (seed, largest)


def test_one_byte_at_a_time():
    stream = make_packets(SESSION, 0, 40)
    assert feed_all(Aligner(), (stream[i:i + 1] for i in range(len(stream)))) == stream


def test_a_misaligned_start_is_dropped_up_to_the_first_whole_packet():
    stream = make_packets(SESSION, 0, 100)
    aligner = Aligner()
    # The body starts in the middle of packet 0, after some junk that holds sync bytes too.
    junk = b"\x47\x00\x47" * 50
    out = feed_all(aligner, split_randomly(junk + stream[77:], random.Random(4), 1000))
    summary = verify(out)
    assert [(run.first_seq, run.last_seq) for run in summary.runs] == [(1, 99)]
    assert aligner.dropped == len(junk) + PACKET - 77


def test_garbage_is_not_a_transport_stream():
    aligner = Aligner()
    with pytest.raises(NotTransportStream):
        for _ in range(100):
            aligner.feed(garbage(4096))
    # Random bytes (with a sync byte now and then) are refused too, within the bound.
    aligner = Aligner()
    fed = 0
    with pytest.raises(NotTransportStream):
        while True:
            assert fed <= MAX_UNSYNCED + 5 * PACKET
            aligner.feed(os.urandom(1000))
            fed += 1000


def test_the_packets_before_garbage_are_not_lost():
    good = make_packets(SESSION, 0, 10)
    aligner = Aligner()
    with pytest.raises(NotTransportStream) as caught:
        aligner.feed(good + garbage(MAX_UNSYNCED + 10_000))
    assert caught.value.packets == good


def test_sync_lost_in_a_corrupt_stretch_is_found_again():
    before = make_packets(SESSION, 0, 50)
    after = make_packets(SESSION, 60, 50)
    # 1000 bytes of junk then a torn packet: the stream resumes at packet 60.
    torn = make_packets(SESSION, 55, 1)[:100]
    body = before + garbage(1000) + torn + after
    aligner = Aligner()
    out = feed_all(aligner, split_randomly(body, random.Random(5), 3000))
    # Two runs of whole packets, nothing of the corrupt stretch in between.
    assert out == before + after
    summary_runs = [(run.first_seq, run.last_seq) for run in _runs(out)]
    assert summary_runs == [(0, 49), (60, 109)]
    assert aligner.relocks == 1
    assert aligner.dropped == 1000 + 100


def test_a_single_bad_sync_byte_drops_only_up_to_the_next_lock():
    stream = bytearray(make_packets(SESSION, 0, 100))
    stream[30 * PACKET] = 0x00  # packet 30 is corrupt
    aligner = Aligner()
    out = feed_all(aligner, [bytes(stream[:40 * PACKET]), bytes(stream[40 * PACKET:])])
    assert out == make_packets(SESSION, 0, 30) + make_packets(SESSION, 31, 69)
    assert aligner.relocks == 1


def _runs(data: bytes):
    # verify() reports the gap between the runs as a problem; the runs themselves are what we check.
    try:
        return verify(data).runs
    except AssertionError as error:
        return error.summary.runs
