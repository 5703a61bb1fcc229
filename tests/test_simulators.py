"""The simulator images start, answer like the real services and obey their fault switches; the
engine's TS checks byte for byte with tests/support/ts.py, whose verifier is tested here on hand-made
bytes too (those tests need no Docker)."""

import contextlib
import http.client
import secrets
import socket
import threading
import time
from urllib.parse import urlsplit

import docker
import docker.errors
import docker.models.images
import pytest
import requests

from tests.support import ts
from tests.support.containers import wait_answering
from tests.support.events import wait_for
from tests.support.images import engine_sim_image, gluetun_sim_image

LABELS = {"orch-test": "1"}
STATUS_PATH = "/server/api?api_version=3&method=get_status"
PACKET = ts.TS_PACKET_SIZE


@pytest.fixture(scope="module")
def client():
    client = docker.from_env()
    yield client
    client.close()


@pytest.fixture
def run(client):
    """Start labelled, uniquely named containers; all are removed at teardown."""
    started = []

    def start(image, **kwargs):
        name = f"simtest-{secrets.token_hex(4)}"
        try:
            container = client.containers.run(image, name=name, labels=LABELS, detach=True, **kwargs)
        finally:
            # A failed run can still leave a created container behind.
            started.append(name)
        return container

    yield start
    for name in reversed(started):  # engines before the Gluetun they joined
        with contextlib.suppress(docker.errors.NotFound):
            client.containers.get(name).remove(force=True)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_engine(run, **kwargs):
    """An engine sim on container port 40123, published on a free loopback port; its base URL."""
    host_port = free_port()
    env = {"CONF": "--http-port=40123\n--https-port=45123\n--bind-all", **kwargs.pop("environment", {})}
    container = run(
        engine_sim_image(), environment=env, ports={"40123/tcp": ("127.0.0.1", host_port)}, **kwargs
    )
    base = f"http://127.0.0.1:{host_port}"
    wait_answering(base + STATUS_PATH)
    return container, base


def set_fault(base, mode):
    assert requests.get(base + "/sim/fault", params={"mode": mode}, timeout=5).status_code == 200


@pytest.mark.docker
def test_images_are_labelled_and_reused(client, monkeypatch):
    tag = engine_sim_image()
    assert client.images.get(tag).labels["orch-test"] == "1"

    def no_build(*args, **kwargs):
        raise AssertionError("an unchanged simulator must reuse its image, not build it again")

    monkeypatch.setattr(docker.models.images.ImageCollection, "build", no_build)
    assert engine_sim_image() == tag


@pytest.mark.docker
def test_engine_playback_stats_and_stop(run):
    container, base = start_engine(run)
    status = requests.get(base + STATUS_PATH, timeout=5)
    assert status.status_code == 200
    assert status.json() == {"result": {"status": 0, "version": "3.2.11-sim"}, "error": None}
    env = requests.get(base + "/sim/env", timeout=5).json()
    assert (env["http_port"], env["https_port"]) == (40123, 45123)

    started = requests.get(base + "/ace/getstream", params={"id": "abc", "format": "json"}, timeout=5)
    response = started.json()["response"]
    assert response["stat_url"].startswith(base + "/ace/stat/")
    assert response["is_live"] == 1
    first = requests.get(response["stat_url"], timeout=5).json()["response"]

    def grown():
        later = requests.get(response["stat_url"], timeout=5).json()["response"]
        return later if later["downloaded"] > first["downloaded"] else None

    second = wait_for(grown, timeout=10, interval=0.1)
    assert 5 <= second["peers"] <= 40
    assert second["downloaded"] > first["downloaded"]
    assert second["playback_session_id"] == response["playback_session_id"]
    with requests.get(response["playback_url"], stream=True, timeout=5) as playback:
        assert next(playback.iter_content(188))[0] == 0x47

    stop = requests.get(response["command_url"], params={"method": "stop"}, timeout=5)
    assert stop.json() == {"response": "ok", "error": None}
    ended = requests.get(response["stat_url"], timeout=5).json()
    assert ended["response"] is None and ended["error"]

    missing = requests.get(base + "/ace/getstream", params={"format": "json"}, timeout=5).json()
    assert missing == {"response": None, "error": "missing content id"}

    container.stop(timeout=10)
    container.reload()
    # Exit code 0, not 137: the simulator stopped on SIGTERM before Docker's SIGKILL 10 s later.
    assert container.attrs["State"]["ExitCode"] == 0


@pytest.mark.docker
def test_engine_fault_switches(run):
    _, base = start_engine(run)
    set_fault(base, "hang")
    with pytest.raises(requests.Timeout):
        requests.get(base + STATUS_PATH, timeout=1)
    set_fault(base, "fail")
    assert requests.get(base + STATUS_PATH, timeout=5).status_code == 500
    set_fault(base, "nonjson")
    page = requests.get(base + STATUS_PATH, timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"] == "text/html"
    with pytest.raises(ValueError):
        page.json()

    set_fault(base, "ok")
    stat_url = requests.get(
        base + "/ace/getstream", params={"id": "x", "format": "json"}, timeout=5
    ).json()["response"]["stat_url"]
    set_fault(base, "garbage_stats")
    assert requests.get(base + STATUS_PATH, timeout=5).status_code == 200
    with pytest.raises(ValueError):
        requests.get(stat_url, timeout=5).json()


@pytest.mark.docker
def test_engine_exit_fault(run):
    container = run(engine_sim_image(), environment={"SIM_FAULT": "exit"})
    assert container.wait(timeout=15)["StatusCode"] == 1


@pytest.mark.docker
def test_gluetun_control_and_shared_namespace(run):
    control_port, engine_port = free_port(), free_port()
    gluetun = run(
        gluetun_sim_image(),
        ports={
            "8000/tcp": ("127.0.0.1", control_port),
            "40123/tcp": ("127.0.0.1", engine_port),
        },
    )
    control = f"http://127.0.0.1:{control_port}"
    wait_answering(control + "/v1/vpn/status")
    assert requests.get(control + "/v1/vpn/status", timeout=5).json() == {"status": "running"}
    assert requests.get(control + "/v1/publicip/ip", timeout=5).json()["public_ip"] == "203.0.113.7"
    assert requests.get(control + "/v1/portforward", timeout=5).json() == {"port": 5914}

    requests.get(
        control + "/sim/set", params={"api_key": "k3y", "port": "6000"}, timeout=5
    ).raise_for_status()
    assert requests.get(control + "/v1/portforward", timeout=5).status_code == 401
    authed = requests.get(control + "/v1/portforward", headers={"X-API-Key": "k3y"}, timeout=5)
    assert authed.status_code == 200 and authed.json() == {"port": 6000}
    stopped = requests.put(
        control + "/v1/vpn/status", json={"status": "stopped"}, headers={"X-API-Key": "k3y"}, timeout=5
    )
    assert stopped.status_code == 200
    state = requests.get(control + "/sim/set", params={"api_key": "", "api_version": "old"}, timeout=5)
    assert state.json()["status"] == "stopped"
    assert requests.get(control + "/v1/portforward", timeout=5).status_code == 404
    assert requests.get(control + "/v1/openvpn/portforwarded", timeout=5).json() == {"port": 6000}

    engine = run(
        engine_sim_image(),
        environment={"CONF": "--http-port=40123\n--https-port=45123"},
        network_mode=f"container:{gluetun.name}",
    )
    wait_answering(f"http://127.0.0.1:{engine_port}{STATUS_PATH}")
    assert requests.get(f"http://127.0.0.1:{engine_port}{STATUS_PATH}", timeout=5).status_code == 200
    engine.reload()
    assert engine.status == "running"


class Player:
    """Reads a playback URL in a thread, as a player does: every byte kept, the end noticed.
    http.client's read1 hands over whatever has arrived, so sizes follow the stream as it flows."""

    def __init__(self, url):
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        self.conn.request("GET", parts.path)
        # getresponse() drops the connection's hold on the socket of a response without a length.
        self.sock = self.conn.sock
        self.response = self.conn.getresponse()
        self.lock = threading.Lock()
        self.data = bytearray()
        self.last_arrival = time.monotonic()
        self.ended = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            while chunk := self.response.read1(65536):
                with self.lock:
                    self.data += chunk
                    self.last_arrival = time.monotonic()
        except (OSError, http.client.HTTPException):
            pass  # our own close(), or the engine cut the connection
        finally:
            self.ended.set()

    def received(self) -> bytes:
        with self.lock:
            return bytes(self.data)

    def size(self) -> int:
        with self.lock:
            return len(self.data)

    def quiet_for(self) -> float:
        with self.lock:
            return time.monotonic() - self.last_arrival

    def wait_bytes(self, size, timeout=10.0):
        wait_for(lambda: self.size() >= size, timeout)

    def close(self):
        # shutdown wakes the reading thread; close alone would leave it blocked in recv.
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        assert self.ended.wait(5)
        self.response.close()  # only once the thread is done with it: http.client is not thread-safe
        self.sock.close()


@contextlib.contextmanager
def players(*urls):
    started = [Player(url) for url in urls]
    try:
        yield started
    finally:
        for player in started:
            player.close()


def start_session(base, key="chan"):
    answer = requests.get(base + "/ace/getstream", params={"id": key, "format": "json"}, timeout=5)
    return answer.json()["response"]


def sim_sessions(base):
    return {s["id"]: s for s in requests.get(base + "/sim/sessions", timeout=5).json()}


def measured_rate(player, seconds, expected_bps):
    """Bytes per second over the time the player takes to get `seconds` worth at the expected rate,
    counted from a first arrival so the connection's start is left out."""
    player.wait_bytes(1)
    start_size, started = player.size(), time.monotonic()
    wanted = start_size + int(expected_bps * seconds)
    player.wait_bytes(wanted, timeout=seconds * 3)
    return (player.size() - start_size) / (time.monotonic() - started)


@pytest.mark.docker
def test_engine_stream_is_checkable_ts_at_the_set_rate(run):
    _, base = start_engine(run, environment={"SIM_RATE_KBPS": "128", "SIM_CHUNK_MS": "50"})
    rate = requests.get(base + "/sim/rate", timeout=5).json()
    assert rate == {"kbps": 128, "chunk_ms": 50, "stream_max_s": 3600}
    session = start_session(base)
    with players(session["playback_url"]) as (player,):
        assert player.response.getheader("Content-Type") == "video/mp2t"
        assert 0.7 * 128 * 1024 < measured_rate(player, 2, 128 * 1024) < 1.4 * 128 * 1024
        faster = requests.get(base + "/sim/rate", params={"kbps": 256}, timeout=5).json()
        assert faster["kbps"] == 256
        player.wait_bytes(player.size() + 256 * 1024 // 2)  # the chunks of the old rate have passed
        assert 0.7 * 256 * 1024 < measured_rate(player, 2, 256 * 1024) < 1.4 * 256 * 1024
        data = player.received()
    assert requests.get(base + "/sim/rate", params={"kbps": "0"}, timeout=5).status_code == 400

    session_id = session["playback_session_id"]
    first = data[:PACKET]
    assert first[:3] == b"\x47\x01\x00" and first[3] >> 4 == 1  # PID 0x100, payload only
    assert first[4:8] == b"SIM1" and first[8:24] == bytes.fromhex(session_id)
    summary = ts.verify(data[:len(data) // PACKET * PACKET])  # the read may end inside a packet
    assert [(run.session_id, run.offset) for run in summary.runs] == [(session_id, 0)]
    assert summary.runs[0].packets == len(data) // PACKET


@pytest.mark.docker
def test_engine_stream_env_cap_and_bad_values(run):
    _, base = start_engine(run, environment={"SIM_STREAM_MAX_S": "1.5", "SIM_RATE_KBPS": "32"})
    with players(start_session(base)["playback_url"]) as (player,):
        assert player.ended.wait(6), "SIM_STREAM_MAX_S must end the connection"
        assert ts.verify(player.received()).packets > 0  # a cap ends on a packet boundary
    bad = run(engine_sim_image(), environment={"SIM_RATE_KBPS": "fast"})
    assert bad.wait(timeout=15)["StatusCode"] == 1


@pytest.mark.docker
def test_engine_readers_of_one_session_share_its_packets(run):
    _, base = start_engine(run)
    session = start_session(base)
    session_id, url = session["playback_session_id"], session["playback_url"]
    with players(url) as (early,):
        early.wait_bytes(PACKET * 100)
        made_before_join = sim_sessions(base)[session_id]["packets"]
        with players(url) as (late,):
            late.wait_bytes(1)
            made_when_joined = sim_sessions(base)[session_id]["packets"]
            late.wait_bytes(PACKET * 100)
            assert wait_for(lambda: sim_sessions(base)[session_id]["readers"] == 2, 5)

            def runs():
                first, second = ts.verify(early.received()).runs, ts.verify(late.received()).runs
                assert len(first) == len(second) == 1 and first[0].session_id == second[0].session_id
                return first[0], second[0]

            # Both are at the live position: their last packets are within a chunk of each other.
            wait_for(lambda: abs(runs()[0].last_seq - runs()[1].last_seq) <= 40, 5)
            early_run, late_run = runs()
            early_data, late_data = early.received(), late.received()
        wait_for(lambda: sim_sessions(base)[session_id]["readers"] == 1, 5)
    wait_for(lambda: sim_sessions(base)[session_id]["readers"] == 0, 5)

    assert early_run.session_id == session_id
    # The late reader starts live, at the session's position when it joined, never from the start.
    assert made_before_join <= late_run.first_seq <= made_when_joined
    assert late_run.first_seq > early_run.first_seq
    at = (late_run.first_seq - early_run.first_seq) * PACKET
    overlap = min(len(early_data) - at, len(late_data)) // PACKET * PACKET
    assert overlap > 0 and early_data[at:at + overlap] == late_data[:overlap]

    described = sim_sessions(base)[session_id]
    assert described["bytes_sent"] >= len(early_data) + len(late_data)
    assert described["packets"] >= max(early_run.last_seq, late_run.last_seq) + 1


@pytest.mark.docker
def test_engine_stream_faults(run):
    _, base = start_engine(run, environment={"SIM_RATE_KBPS": "32"})
    session = start_session(base)
    url = session["playback_url"]

    set_fault(base, "garbage_stream")
    with players(url) as (player,):
        player.wait_bytes(4096)
        assert requests.get(base + STATUS_PATH, timeout=5).status_code == 200  # playback only
        garbage = player.received()
    assert 0x47 not in garbage
    with pytest.raises(AssertionError, match="no packet of the simulator follows"):
        ts.verify(garbage)
    set_fault(base, "ok")

    with players(url) as (player,):
        player.wait_bytes(PACKET * 10)
        set_fault(base, "stall_stream")
        # Bytes stop (after what was already on its way) while the API still answers.
        wait_for(lambda: player.quiet_for() > 1.5, 6)
        assert requests.get(base + STATUS_PATH, timeout=5).status_code == 200
        assert not player.ended.is_set()
        stalled_at = player.size()
        set_fault(base, "ok")
        player.wait_bytes(stalled_at + PACKET * 10)
        resumed = ts.verify(player.received()[:player.size() // PACKET * PACKET])
    # A stalled engine has nothing to send: it resumes where it stopped, without a gap.
    assert len(resumed.runs) == 1

    with players(url) as (cut,):
        cut.wait_bytes(PACKET)
        set_fault(base, "drop_stream")
        assert cut.ended.wait(3), "drop_stream must close playback connections at once"
        with players(url) as (refused,):
            assert refused.response.status == 200
            assert refused.ended.wait(3) and refused.size() == 0
        assert requests.get(base + STATUS_PATH, timeout=5).status_code == 200
        set_fault(base, "ok")
        last_before = ts.verify(cut.received()).runs[-1].last_seq  # cut after a whole packet
    with players(url) as (again,):  # the session lived on: a new reader gets its live position
        again.wait_bytes(PACKET * 5)
        assert ts.verify(again.received()[:PACKET * 5]).runs[0].first_seq > last_before
        set_fault(base, "tear_stream")
        assert again.ended.wait(3), "tear_stream must close playback connections at once"
        set_fault(base, "ok")
    torn = again.received()
    # Whole packets, then the first 100 bytes of the next one: what a proxy must not pass on as is.
    with pytest.raises(AssertionError, match="the last 100 bytes .* are a cut packet"):
        ts.verify(torn)
    whole = ts.verify(torn[:-100])
    assert torn[-100:] == ts.make_packets(whole.runs[-1].session_id, whole.runs[-1].last_seq + 1, 1)[:100]


@pytest.mark.docker
def test_engine_end_of_session_ends_its_readers(run):
    _, base = start_engine(run)
    stopped, ended = start_session(base, "one"), start_session(base, "two")
    with players(stopped["playback_url"], stopped["playback_url"], ended["playback_url"]) as readers:
        for reader in readers:
            reader.wait_bytes(PACKET)
        described = wait_for(lambda: (
            (found := sim_sessions(base))[stopped["playback_session_id"]]["readers"] == 2
            and found[ended["playback_session_id"]]["readers"] == 1 and found), 5)
        one = described[stopped["playback_session_id"]]
        assert one["key"] == "one" and one["infohash"] == stopped["infohash"]
        assert not one["stopped"] and one["packets"] > 0 and abs(one["created"] - time.time()) < 60

        stop = requests.get(stopped["command_url"], params={"method": "stop"}, timeout=5)
        assert stop.json() == {"response": "ok", "error": None}
        assert readers[0].ended.wait(3) and readers[1].ended.wait(3), "stop must end its readers"
        assert not readers[2].ended.is_set()
        end = requests.get(f"{base}/sim/session/{ended['playback_session_id']}/end", timeout=5)
        assert end.status_code == 200
        assert readers[2].ended.wait(3), "/sim/session/<id>/end must end its readers"
        for reader in readers:  # what they got up to the end is whole, in-order packets
            assert len(ts.verify(reader.received()).runs) == 1

    final = wait_for(lambda: (found := sim_sessions(base)) and all(
        s["readers"] == 0 for s in found.values()) and found, 5)
    assert final[stopped["playback_session_id"]]["stopped"] is True
    assert final[stopped["playback_session_id"]]["ended_by"] == "stop"
    assert final[ended["playback_session_id"]]["ended_by"] == "sim"
    assert all(s["bytes_sent"] > 0 for s in final.values())
    assert requests.get(stopped["playback_url"], timeout=5).status_code == 404
    assert requests.get(base + "/sim/env", timeout=5).json()["sessions"] == []


SESSION_A, SESSION_B = "a1" * 16, "b2" * 16


def test_ts_packets_have_the_documented_layout():
    # An oracle built field by field, independent of the simulator's patched template; the range
    # crosses a continuity counter wrap and a carry in the sequence's second byte.
    def packet(seq):
        return (b"\x47\x01\x00" + bytes([0x10 | seq & 15]) + b"SIM1" + bytes.fromhex(SESSION_A)
                + seq.to_bytes(8, "big") + b"\xff" * 156)

    assert ts.make_packets(SESSION_A, 250, 300) == b"".join(packet(seq) for seq in range(250, 550))
    assert ts.make_packets(SESSION_A, 2**40 - 3, 7) == b"".join(packet(2**40 - 3 + i) for i in range(7))


def test_ts_verify_splits_runs_by_session():
    data = ts.make_packets(SESSION_A, 0, 100) + ts.make_packets(SESSION_B, 7, 5)
    summary = ts.verify(data)
    assert summary.runs == (ts.Run(SESSION_A, 0, 99, 100, 0), ts.Run(SESSION_B, 7, 11, 5, 100 * PACKET))
    assert summary.sessions == [SESSION_A, SESSION_B]
    assert (summary.packets, summary.size) == (105, len(data))
    assert ts.verify(b"").runs == ()


def test_ts_verify_reports_a_misaligned_start():
    data = ts.make_packets(SESSION_A, 0, 10)[100:]
    with pytest.raises(AssertionError, match="byte 0: .*does not start on a packet boundary.*byte 88"):
        ts.verify(data)


def test_ts_verify_reports_a_missing_packet():
    packets = ts.make_packets(SESSION_A, 0, 10)
    with pytest.raises(AssertionError, match=f"byte {4 * PACKET}: .* seq 5 after seq 3: 1 packet missing"):
        ts.verify(packets[:4 * PACKET] + packets[5 * PACKET:])
    with pytest.raises(AssertionError, match="a repeated packet"):
        ts.verify(packets[:4 * PACKET] + packets[3 * PACKET:])


def test_ts_verify_reports_a_switch_inside_a_packet_and_a_cut_end():
    first, second = ts.make_packets(SESSION_A, 0, 10), ts.make_packets(SESSION_B, 50, 10)
    with pytest.raises(ts.StreamError) as switched:
        ts.verify(first[:-50] + second)
    assert "after 9 good packets, a packet is cut or foreign" in str(switched.value)
    assert len(switched.value.problems) == 1
    assert [run.session_id for run in switched.value.summary.runs] == [SESSION_A, SESSION_B]
    with pytest.raises(AssertionError, match="the last 40 bytes .* are a cut packet"):
        ts.verify(first + second[:40])


def test_ts_verify_reports_a_broken_continuity_counter():
    data = bytearray(ts.make_packets(SESSION_A, 0, 10))
    data[3 * PACKET + 3] = 0x10 | 9
    with pytest.raises(AssertionError, match="continuity counter 9 after 2 .expected 3."):
        ts.verify(data)
