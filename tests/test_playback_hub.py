"""The hub with fake engine sessions and fake players (no Docker, no Django): one session per
content shared by every player, whole packets in one run per session, failover spliced on a packet
boundary, slow players cut off without slowing the others, linger and teardown, start errors, and
batched sends. Every check waits for a condition with a deadline; nothing sleeps and then asserts."""

import asyncio
import secrets

import pytest

from playback.flow import Flow
from playback.hub import (
    Hub,
    HubClosed,
    Limits,
    SessionFailed,
    StartFailed,
    StartTimeout,
    TooManyPlayers,
)
from tests.simulators.engine_sim import garbage
from tests.support.ts import make_packets, verify

PACKET = 188


class FakeSession:
    """An engine session: `good_chunks` chunks of `chunk_packets` packets of its own session id, one
    every `interval` s (None: for ever), then `then`: "end" (the body ends), "stall" (nothing more,
    the body stays open), "garbage" (bytes without a sync byte) or "torn" (a torn packet, then the
    end). `split` cuts each chunk into reads of that many bytes, so reads are not packet-aligned."""

    def __init__(self, label, *, good_chunks=None, then="end", chunk_packets=10, interval=0.002,
                 split=None):
        self.label = label
        self.session_id = secrets.token_hex(16)
        self.good_chunks = good_chunks
        self.then = then
        self.chunk_packets = chunk_packets
        self.interval = interval
        self.split = split
        self.sent = 0  # packets yielded
        self.closed: list[str] = []
        self.body_closed = False  # the chunks() generator ran its cleanup

    async def chunks(self):
        try:
            chunk = 0
            while self.good_chunks is None or chunk < self.good_chunks:
                data = make_packets(self.session_id, self.sent, self.chunk_packets)
                if self.split:
                    for at in range(0, len(data), self.split):
                        yield data[at:at + self.split]
                else:
                    yield data
                self.sent += self.chunk_packets
                chunk += 1
                await asyncio.sleep(self.interval)
            if self.then == "stall":
                await asyncio.Event().wait()
            elif self.then == "garbage":
                while True:
                    yield garbage(4096)
                    await asyncio.sleep(0)
            elif self.then == "torn":
                yield make_packets(self.session_id, self.sent, 1)[:100]
        finally:
            self.body_closed = True

    async def close(self, reason):
        self.closed.append(reason)


class Engines:
    """start_session: hands out the given sessions (or raises the given exceptions) in order."""

    def __init__(self, *results):
        self.results = list(results)
        self.calls: list[tuple[int, frozenset]] = []

    async def __call__(self, attempt, avoid):
        self.calls.append((attempt, avoid))
        await asyncio.sleep(0)
        if not self.results:
            raise LookupError("no engine left in this test")
        result = self.results.pop(0)
        if isinstance(result, BaseException):
            raise result
        return result


class FakePlayer:
    """The ASGI send/receive of one player. `block_after`: its send never returns after that many
    bodies (a stuck connection); `pause_after`: its flow is paused for good after that many."""

    def __init__(self, *, block_after=None, pause_after=None):
        self.data = bytearray()
        self.sends = 0
        self.ended = False
        self.first_body_at = None
        self.block_after = block_after
        self.pause_after = pause_after
        self.flow = Flow()
        self._gone = asyncio.Event()
        self._asked = False

    async def send(self, message):
        assert message["type"] == "http.response.body"
        if not message.get("more_body", False):
            self.ended = True
            return
        if self.block_after is not None and self.sends >= self.block_after:
            await asyncio.Event().wait()
        self.sends += 1
        self.data += message["body"]
        if self.first_body_at is None:
            self.first_body_at = asyncio.get_running_loop().time()
        if self.pause_after is not None and self.sends >= self.pause_after:
            self.flow.pauseProducing()

    async def receive(self):
        if not self._asked:  # daphne first hands over the (empty) request body
            self._asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self._gone.wait()
        return {"type": "http.disconnect"}

    def leave(self):
        self._gone.set()

    @property
    def packets(self) -> int:
        return len(self.data) // PACKET

    def last_seq(self):
        return int.from_bytes(self.data[-PACKET + 24:-PACKET + 32], "big") if self.data else None

    def sessions(self):
        return verify(self.data).sessions


async def play(hub: Hub, player: FakePlayer) -> str:
    """What the Django side does for one request."""
    seat = hub.admit()
    try:
        await hub.wait_ready()
    except BaseException:
        seat.release()
        raise
    return await hub.serve(player.send, player.receive, player.flow, seat)


async def one_player_plays_then_leaves(hub: Hub) -> str:
    """A player reads 50 packets and leaves; returns how its serve ended."""
    player = FakePlayer()
    task = asyncio.create_task(play(hub, player))
    await until(lambda: player.packets >= 50)
    player.leave()
    return await task


async def until(condition, timeout=3.0, what="the condition"):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.005)


def limits(**changes) -> Limits:
    base = dict(buffer_bytes=1 << 20, stall_s=0.3, failover_tries=3, linger_s=0.2, start_timeout_s=2.0,
                max_players=10, batch_max_bytes=256 * 1024, batch_min_bytes=16 * 1024, batch_wait_s=0.02)
    return Limits(**{**base, **changes})


def runs(player: FakePlayer):
    return [(run.session_id, run.first_seq, run.last_seq) for run in verify(player.data).runs]


def test_four_players_share_one_session_and_each_gets_one_contiguous_run():
    async def scenario():
        session = FakeSession("e1", split=1000)
        engines = Engines(session)
        events = []
        hub = Hub("c1", engines, limits(), on_change=lambda hub, event: events.append(event))
        players = [FakePlayer() for _ in range(4)]
        tasks = [asyncio.create_task(play(hub, player)) for player in players]
        await until(lambda: all(player.packets >= 300 for player in players), what="300 packets each")
        assert len(engines.calls) == 1
        assert (hub.players, hub.sessions, hub.label, hub.state) == (4, 1, "e1", "streaming")
        for player in players:
            player.leave()
        assert await asyncio.wait_for(asyncio.gather(*tasks), 2) == ["left"] * 4
        for player in players:
            summary = verify(player.data)
            assert summary.sessions == [session.session_id]
            assert len(summary.runs) == 1
            assert not player.ended  # a player that left gets nothing more
        assert hub.bytes_sent == sum(len(player.data) for player in players)
        await hub.close()
        assert session.closed == ["closed"] and session.body_closed
        assert hub.state == "closed" and hub.done.is_set()
        assert events[0] == "player_joined" and events.count("player_joined") == 4
        assert events.index("session_started") < events.index("streaming")
        assert {"player_left", "lingering"} <= set(events) and events[-1] == "closed"

    asyncio.run(scenario())


def test_a_late_joiner_starts_on_a_packet_boundary_and_gets_its_first_body_at_once():
    async def scenario():
        # Packets of 7 per chunk arriving in reads of 1000 bytes: nothing upstream is aligned.
        session = FakeSession("e1", chunk_packets=7, split=1000)
        hub = Hub("c1", Engines(session), limits())
        first = FakePlayer()
        first_task = asyncio.create_task(play(hub, first))
        await until(lambda: first.packets >= 500, what="the first player's packets")
        loop = asyncio.get_running_loop()
        late = FakePlayer()
        asked_at = loop.time()
        late_task = asyncio.create_task(play(hub, late))
        await until(lambda: late.first_body_at is not None, timeout=1.0, what="the late joiner's first body")
        assert late.first_body_at - asked_at < 0.5
        await until(lambda: late.packets >= 100, what="the late joiner's packets")
        ((session_id, first_seq, _),) = runs(late)
        assert session_id == session.session_id and first_seq > 400
        first.leave()
        late.leave()
        await asyncio.gather(first_task, late_task)
        await hub.close()

    asyncio.run(scenario())


def test_two_hubs_never_mix():
    async def scenario():
        one, two = FakeSession("e1"), FakeSession("e2")
        hub_one, hub_two = Hub("c1", Engines(one), limits()), Hub("c2", Engines(two), limits())
        players = {hub_one: [FakePlayer(), FakePlayer()], hub_two: [FakePlayer(), FakePlayer()]}
        tasks = [asyncio.create_task(play(hub, player)) for hub, group in players.items() for player in group]
        await until(lambda: all(p.packets >= 200 for group in players.values() for p in group))
        for group in players.values():
            for player in group:
                player.leave()
        await asyncio.gather(*tasks)
        for player in players[hub_one]:
            assert player.sessions() == [one.session_id]
        for player in players[hub_two]:
            assert player.sessions() == [two.session_id]
        await asyncio.gather(hub_one.close(), hub_two.close())

    asyncio.run(scenario())


@pytest.mark.parametrize("slow", ["blocked_send", "paused_flow"])
def test_a_slow_player_is_cut_off_while_a_fast_one_gets_every_packet(slow):
    async def scenario():
        # About 1 MB/s into a 256 KiB ring: a player that stops reading falls behind in a quarter
        # of a second.
        session = FakeSession("e1", chunk_packets=20, interval=0.002)
        hub = Hub("c1", Engines(session), limits(buffer_bytes=256 * 1024, batch_max_bytes=64 * 1024))
        fast = FakePlayer()
        stuck = FakePlayer(block_after=2) if slow == "blocked_send" else FakePlayer(pause_after=2)
        fast_task = asyncio.create_task(play(hub, fast))
        stuck_task = asyncio.create_task(play(hub, stuck))
        assert await asyncio.wait_for(stuck_task, 3) == "cut_off"
        assert hub.cut_off == 1 and stuck.ended
        assert hub.players == 1
        # The fast one goes on, every packet in order, before and after the cut.
        at_cut = fast.packets
        await until(lambda: fast.packets >= at_cut + 500, what="the fast player going on")
        fast.leave()
        assert await fast_task == "left"
        ((session_id, _, last_seq),) = runs(fast)
        assert session_id == session.session_id and last_seq > 1000
        await hub.close()

    asyncio.run(scenario())


def test_garbage_upstream_fails_over_and_players_get_two_runs_spliced_on_a_packet_boundary():
    async def scenario():
        bad = FakeSession("e1", good_chunks=30, then="garbage", split=700)
        good = FakeSession("e2", split=700)
        engines = Engines(bad, good)
        hub = Hub("c1", engines, limits())
        players = [FakePlayer(), FakePlayer()]
        tasks = [asyncio.create_task(play(hub, player)) for player in players]
        await until(lambda: good.sent >= 200 and all(
            player.data and player.last_seq() >= 150 and len(player.sessions()) == 2 for player in players),
            what="both players on the second session")
        for player in players:
            player.leave()
        await asyncio.gather(*tasks)
        for player in players:
            (one, _, last), (two, first, _) = runs(player)
            assert (one, last, two, first) == (bad.session_id, 299, good.session_id, 0)
        assert hub.failovers == {"not_ts": 1}
        assert engines.calls == [(1, frozenset()), (2, frozenset({"e1"}))]
        assert bad.closed == ["not_ts"] and bad.body_closed
        await hub.close()
        assert good.closed == ["closed"]

    asyncio.run(scenario())


def test_a_torn_packet_at_the_end_of_a_session_never_reaches_a_player():
    async def scenario():
        torn = FakeSession("e1", good_chunks=20, then="torn")
        nxt = FakeSession("e2")
        hub = Hub("c1", Engines(torn, nxt), limits())
        player = FakePlayer()
        task = asyncio.create_task(play(hub, player))
        await until(lambda: nxt.sent >= 100 and player.data and len(player.sessions()) == 2
                    and player.last_seq() >= 50)
        player.leave()
        await task
        assert [run[0] for run in runs(player)] == [torn.session_id, nxt.session_id]
        assert hub.failovers == {"dropped": 1}
        await hub.close()

    asyncio.run(scenario())


def test_a_stall_fails_over():
    async def scenario():
        stalling = FakeSession("e1", good_chunks=20, then="stall")
        nxt = FakeSession("e2")
        engines = Engines(stalling, nxt)
        hub = Hub("c1", engines, limits(stall_s=0.2))
        player = FakePlayer()
        task = asyncio.create_task(play(hub, player))
        await until(lambda: player.data and len(player.sessions()) == 2 and player.last_seq() >= 50)
        assert hub.failovers == {"stalled": 1}
        assert stalling.closed == ["stalled"] and stalling.body_closed
        assert engines.calls[1] == (2, frozenset({"e1"}))
        assert hub.state == "streaming" and hub.label == "e2"
        player.leave()
        await task
        await hub.close()

    asyncio.run(scenario())


def test_engine_died_fails_over_at_once():
    async def scenario():
        dying, nxt = FakeSession("e1"), FakeSession("e2")
        hub = Hub("c1", Engines(dying, nxt), limits(stall_s=30))
        player = FakePlayer()
        task = asyncio.create_task(play(hub, player))
        await until(lambda: player.packets >= 100)
        assert hub.engine_died("someone-else") is False
        assert hub.engine_died("e1") is True
        await until(lambda: len(player.sessions()) == 2 and player.last_seq() >= 50, timeout=2.0)
        assert hub.failovers == {"engine_died": 1}
        assert dying.closed == ["engine_died"] and dying.body_closed
        player.leave()
        await task
        await hub.close()
        assert nxt.closed == ["closed"]

    asyncio.run(scenario())


def test_move_switches_engines_without_counting_as_a_failure():
    async def scenario():
        sessions = [FakeSession(f"e{n}") for n in (1, 2, 3)]
        engines = Engines(*sessions)
        hub = Hub("c1", engines, limits(failover_tries=1))
        player = FakePlayer()
        task = asyncio.create_task(play(hub, player))
        for moves in (1, 2):
            await until(lambda moves=moves: player.data and len(player.sessions()) == moves
                        and player.last_seq() >= 50)
            assert hub.move() is True
        await until(lambda: len(player.sessions()) == 3 and player.last_seq() >= 50)
        assert hub.state == "streaming" and hub.failovers == {"moved": 2}
        assert engines.calls[2] == (3, frozenset({"e1", "e2"}))
        assert [s.closed for s in sessions[:2]] == [["moved"], ["moved"]]
        assert player.sessions() == [s.session_id for s in sessions]
        player.leave()
        await task
        await hub.close()

    asyncio.run(scenario())


def test_failover_tries_exhausted_ends_the_players_and_fails_the_hub():
    async def scenario():
        first = FakeSession("e1", good_chunks=20, then="end")
        duds = [FakeSession(f"e{n}", good_chunks=0, then="end") for n in (2, 3, 4)]
        engines = Engines(first, *duds)
        hub = Hub("c1", engines, limits(failover_tries=3))
        players = [FakePlayer(), FakePlayer()]
        tasks = [asyncio.create_task(play(hub, player)) for player in players]
        assert await asyncio.wait_for(asyncio.gather(*tasks), 3) == ["hub_closed"] * 2
        await asyncio.wait_for(hub.done.wait(), 1)
        assert hub.state == "failed"
        assert isinstance(hub.error, SessionFailed) and hub.error.label == "e4"
        assert [call[1] for call in engines.calls] == [
            frozenset(), frozenset({"e1"}), frozenset({"e1", "e2"}), frozenset({"e1", "e2", "e3"})]
        assert [s.closed for s in [first, *duds]] == [["dropped"]] * 4
        assert hub.failovers == {"dropped": 4}
        for player in players:
            assert player.ended and player.sessions() == [first.session_id]
        with pytest.raises(HubClosed):
            hub.admit()
        await hub.close()  # a no-op on a failed hub

    asyncio.run(scenario())


def test_the_last_player_leaving_closes_the_session_after_the_linger():
    async def scenario():
        session = FakeSession("e1")
        hub = Hub("c1", Engines(session), limits(linger_s=0.2))
        player = FakePlayer()
        task = asyncio.create_task(play(hub, player))
        await until(lambda: player.packets >= 50)
        loop = asyncio.get_running_loop()
        player.leave()
        left_at = loop.time()
        assert await task == "left"
        assert hub.state == "lingering" and session.closed == []
        await asyncio.wait_for(hub.done.wait(), 2)
        assert loop.time() - left_at >= 0.19
        assert session.closed == ["no_players"] and hub.state == "closed"

    asyncio.run(scenario())


def test_an_engine_dying_while_the_hub_lingers_ends_it_without_another_engine():
    async def scenario():
        session = FakeSession("e1")
        engines = Engines(session, FakeSession("e2"))
        hub = Hub("c1", engines, limits(linger_s=30))
        assert await one_player_plays_then_leaves(hub) == "left"
        assert hub.state == "lingering"
        assert hub.engine_died("e1") is True
        await asyncio.wait_for(hub.done.wait(), 2)  # not the linger's 30 s
        assert hub.state == "closed" and len(engines.calls) == 1
        assert session.closed == ["engine_died"] and hub.failovers == {"engine_died": 1}

    asyncio.run(scenario())


class SlowToClose(FakeSession):
    """An engine whose stop command answers only when the test lets it."""

    def __init__(self, label):
        super().__init__(label)
        self.may_close = asyncio.Event()

    async def close(self, reason):
        await self.may_close.wait()
        await super().close(reason)


def test_a_hub_closing_its_session_admits_nobody_until_it_is_done():
    async def scenario():
        session = SlowToClose("e1")
        hub = Hub("c1", Engines(session), limits(linger_s=0.05))
        assert await one_player_plays_then_leaves(hub) == "left"
        await until(lambda: hub.state == "closing", what="the linger to end")
        assert not hub.accepts_players and not hub.done.is_set()
        with pytest.raises(HubClosed):
            hub.admit()
        session.may_close.set()
        await asyncio.wait_for(hub.done.wait(), 2)
        assert hub.state == "closed" and session.closed == ["no_players"]

    asyncio.run(scenario())


def test_a_player_back_within_the_linger_keeps_the_session():
    async def scenario():
        session = FakeSession("e1")
        engines = Engines(session)
        hub = Hub("c1", engines, limits(linger_s=0.5))
        first = FakePlayer()
        task = asyncio.create_task(play(hub, first))
        await until(lambda: first.packets >= 50)
        first.leave()
        await task
        assert hub.state == "lingering"
        back = FakePlayer()
        loop = asyncio.get_running_loop()
        asked_at = loop.time()
        task = asyncio.create_task(play(hub, back))
        await until(lambda: back.first_body_at is not None, timeout=1.0)
        assert back.first_body_at - asked_at < 0.3  # zapping back is instant
        assert hub.state == "streaming" and session.closed == []
        await until(lambda: back.packets >= 50)
        assert back.sessions() == [session.session_id] and len(engines.calls) == 1
        back.leave()
        await task
        await asyncio.wait_for(hub.done.wait(), 2)
        assert session.closed == ["no_players"]

    asyncio.run(scenario())


def test_a_disconnect_ends_the_player_at_once_even_while_nothing_comes():
    async def scenario():
        session = FakeSession("e1", good_chunks=5, then="stall")
        hub = Hub("c1", Engines(session), limits(stall_s=30))
        player = FakePlayer()
        task = asyncio.create_task(play(hub, player))
        await until(lambda: session.sent == 50 and player.packets > 0)
        player.leave()
        assert await asyncio.wait_for(task, 0.5) == "left"
        await hub.close()
        assert session.closed == ["closed"]

    asyncio.run(scenario())


def test_close_ends_every_player_and_the_session():
    async def scenario():
        session = FakeSession("e1")
        events = []
        hub = Hub("c1", Engines(session), limits(), on_change=lambda hub, event: events.append(event))
        players = [FakePlayer(), FakePlayer(pause_after=1)]
        tasks = [asyncio.create_task(play(hub, player)) for player in players]
        await until(lambda: all(player.sends >= 1 for player in players))
        await asyncio.wait_for(hub.close("closed"), 2)
        assert await asyncio.wait_for(asyncio.gather(*tasks), 2) == ["hub_closed"] * 2
        assert all(player.ended for player in players)
        assert session.closed == ["closed"] and hub.state == "closed" and "closed" in events
        with pytest.raises(HubClosed):
            hub.admit()

    asyncio.run(scenario())


def test_start_session_raising_fails_wait_ready_with_the_cause():
    class ProvisioningBlocked(Exception):
        pass

    async def scenario():
        causes = [ProvisioningBlocked(f"max_capacity {n}") for n in range(3)]
        engines = Engines(*causes)
        hub = Hub("c1", engines, limits(failover_tries=3))
        with pytest.raises(StartFailed) as caught:
            await play(hub, FakePlayer())
        assert caught.value.cause is causes[-1]
        assert [call[0] for call in engines.calls] == [1, 2, 3]
        assert hub.failovers == {"start_failed": 3}
        await asyncio.wait_for(hub.done.wait(), 1)
        assert hub.state == "failed" and hub.players == 0

    asyncio.run(scenario())


def test_no_data_within_the_start_timeout_is_start_timeout():
    async def scenario():
        silent = FakeSession("e1", good_chunks=0, then="stall")
        hub = Hub("c1", Engines(silent), limits(start_timeout_s=0.2))
        loop = asyncio.get_running_loop()
        asked_at = loop.time()
        with pytest.raises(StartTimeout):
            await play(hub, FakePlayer())
        assert 0.19 <= loop.time() - asked_at < 1.0
        assert hub.players == 0
        await hub.close()
        assert len(silent.closed) == 1  # "stalled" or "closed", whichever came first

    asyncio.run(scenario())


def test_max_players():
    async def scenario():
        session = FakeSession("e1")
        hub = Hub("c1", Engines(session), limits(max_players=2))
        seats = [hub.admit(), hub.admit()]
        with pytest.raises(TooManyPlayers):
            hub.admit()
        seats[0].release()
        seats[0].release()  # idempotent
        assert hub.players == 1
        seats.append(hub.admit())
        assert hub.players == 2
        await hub.close()

    asyncio.run(scenario())


def test_sends_are_batched_far_below_one_per_upstream_chunk():
    async def scenario():
        # 3000 reads of one packet each, as fast as the loop goes.
        session = FakeSession("e1", chunk_packets=1, interval=0, good_chunks=3000, then="stall")
        hub = Hub("c1", Engines(session), Limits(stall_s=30, linger_s=0.1))
        player = FakePlayer()
        task = asyncio.create_task(play(hub, player))
        await until(lambda: player.data and player.last_seq() == 2999, what="every packet")
        assert player.sends <= 3000 // 20, player.sends
        ((_, first_seq, last_seq),) = runs(player)
        assert first_seq < 10 and last_seq == 2999
        player.leave()
        await task
        await hub.close()

    asyncio.run(scenario())
