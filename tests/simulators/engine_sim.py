"""AceStream engine simulator for tests: stdlib only, one file, runs in a FROM-scratch image.

Serves the engine API the orchestrator and proxies call (health, version, playback, stats, stop) and
/sim/* endpoints that tests use to inspect it and to inject faults.

Ports: HTTP from argv `--http-port=N` / `--http-port N`, else the CONF env lines (as the real image gets
them), else env HTTP_PORT, else 6878; the HTTPS port likewise (`--https-port`, HTTPS_PORT, 6879). Both
answer plain HTTP; the second one exists only so the port is bound like the real engine's.

Env switches read at start:
  SIM_FAULT         initial fault mode (see FAULT_MODES; `exit` exits 1 at once unless SIM_EXIT_AFTER)
  SIM_EXIT_AFTER    seconds after start at which the process exits with code 1
  SIM_START_DELAY   seconds to wait before listening (a slow engine start-up)
  SIM_RATE_KBPS     KiB/s of TS made per playback session (default 64; GET /sim/rate?kbps=N changes it)
  SIM_CHUNK_MS      milliseconds between two writes to a player (default 100)
  SIM_STREAM_MAX_S  longest a playback connection lasts, in seconds (default 3600)

Playback, as the real engine does it for a live channel: `/ace/getstream?format=json` opens a session,
whose playback_url streams it. Packets are made per session at the session's rate, whoever reads
(one clock thread paces every session), and every reader of a playback_url gets the same packets from
the moment it joined: never old ones, always whole packets in order. Each 188-byte packet is
  0x47 | PID 0x100, payload only, continuity counter = seq mod 16 | b"SIM1" | session id (16 bytes) |
  seq (8 bytes, big-endian, 0 for the session's first packet) | 0xFF padding
so tests/support/ts.py can check byte for byte what a player got through a proxy.

/sim endpoints (answered whatever the fault):
  /sim/fault?mode=M        set the fault mode (FAULT_MODES)
  /sim/rate[?kbps=N]       the rate of every session, changed when kbps is given
  /sim/sessions            every session: id, key, infohash, created (Unix time), readers, bytes_sent,
                           packets (made so far), stopped, ended_by ("stop", "sim" or null)
  /sim/session/<id>/end    end a session as if the engine dropped it (its readers are cut)
  /sim/env                 argv, env, ports and live session ids
"""

import collections
import hashlib
import itertools
import json
import os
import random
import secrets
import signal
import sys
import threading
import time
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# The first six modes apply to the API as before; the *_stream ones only to playback connections, so
# a proxy's failover can be tested while the engine still answers its status and stats:
#   garbage_stream  players get random bytes without a sync byte instead of the session's packets
#   stall_stream    players get nothing, connections stay open; the session does not advance either
#   drop_stream     connections close at once, after a whole packet (new ones right after headers)
#   tear_stream     like drop_stream, but each player first gets a torn packet (the first TORN_BYTES of
#                   its next one), as from an engine that dies in the middle of a write
FAULT_MODES = (
    "ok", "hang", "fail", "nonjson", "exit", "garbage_stats",
    "garbage_stream", "stall_stream", "drop_stream", "tear_stream",
)
CUTTING_MODES = ("drop_stream", "tear_stream")
TORN_BYTES = 100
CONTENT_KEYS = ("id", "infohash", "content_id", "url", "magnet")

TS_PACKET_SIZE = 188
TS_SYNC = 0x47
TS_PID = 0x100
TS_MAGIC = b"SIM1"
# Byte offsets in a packet: the 4-byte TS header, then the payload fields.
TS_CC_AT = 3
TS_MAGIC_AT = 4
TS_SESSION_AT = 8
TS_SEQ_AT = 24
TS_PADDING_AT = 32
TS_PADDING = b"\xff" * (TS_PACKET_SIZE - TS_PADDING_AT)
# Header byte 3: scrambling 00, adaptation field control 01 (payload only), continuity counter.
TS_PAYLOAD_ONLY = 0x10
CC_CYCLE = bytes(TS_PAYLOAD_ONLY | i for i in range(16))
# Garbage for `garbage_stream` never holds a sync byte, so nothing can mistake it for TS.
NO_SYNC = bytes.maketrans(bytes([TS_SYNC]), bytes([TS_SYNC + 1]))
# Chunks a session keeps for readers that are still writing the previous ones; a reader further
# behind than this is cut (a gap would be a silent corruption, a cut is what a player notices).
BACKLOG_S = 5.0
# Ended sessions kept for /sim/sessions; older ones are forgotten so a long bench run stays small.
ENDED_KEPT = 1000


def flag_value(tokens, flag):
    """Value of `--flag=N` or `--flag N` among tokens, or None."""
    for i, token in enumerate(tokens):
        if token.startswith(flag + "="):
            return token.split("=", 1)[1]
        if token == flag and i + 1 < len(tokens):
            return tokens[i + 1]
    return None


def port_option(flag, env_name, default):
    value = (
        flag_value(sys.argv[1:], flag)
        or flag_value(os.environ.get("CONF", "").split(), flag)
        or os.environ.get(env_name)
    )
    return int(value) if value else default


def positive_env(name, default):
    """A positive number from the environment; anything else stops the simulator with the name."""
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = 0
    if not value > 0:
        sys.exit(f"engine-sim: {name} must be a positive number, got {raw!r}")
    return value


@lru_cache(maxsize=64)
def seq_factors(count):
    """(ones, ramp) such that seq * ones + ramp is the 8-byte big-endian numbers seq .. seq+count-1
    laid end to end: one big-int sum builds a chunk's whole sequence column with no per-packet loop."""
    ones = ramp = 0
    for i in range(count):
        ones = (ones << 64) | 1
        ramp = (ramp << 64) | i
    return ones, ramp


class PacketMaker:
    """Chunks of one session's packets. The template is built once; a chunk patches only the bytes
    that change per packet (continuity counter, sequence number) with strided slice assignments, so a
    chunk of any size costs a dozen C-level operations."""

    def __init__(self, session_id):
        self.packet = (
            bytes((TS_SYNC, TS_PID >> 8, TS_PID & 0xFF, TS_PAYLOAD_ONLY))
            + TS_MAGIC
            + bytes.fromhex(session_id)
            + bytes(8)
            + TS_PADDING
        )
        assert len(self.packet) == TS_PACKET_SIZE
        self.template = bytearray()

    def chunk(self, seq, count):
        """Packets seq .. seq+count-1 as one bytes object."""
        end = count * TS_PACKET_SIZE
        if len(self.template) < end:
            self.template = bytearray(self.packet * count)
        template = self.template
        first_cc = seq & 15
        template[TS_CC_AT:end:TS_PACKET_SIZE] = (CC_CYCLE * (count // 16 + 2))[first_cc:first_cc + count]
        ones, ramp = seq_factors(count)
        column = (seq * ones + ramp).to_bytes(8 * count, "big")
        for k in range(8):
            template[TS_SEQ_AT + k:end:TS_PACKET_SIZE] = column[k::8]
        return bytes(template[:end])  # a copy: the template is patched again for the next chunk


def garbage(size):
    """Random-looking bytes without a single TS sync byte."""
    return os.urandom(size).translate(NO_SYNC)


class Session:
    def __init__(self, key):
        self.id = secrets.token_hex(16)
        self.key = key
        self.infohash = hashlib.sha1(key.encode()).hexdigest()
        self.created = time.time()
        self.peers = random.randint(5, 40)
        self.downloaded = 0
        self.uploaded = 0
        self.last_stat = time.monotonic()
        # Playback state, guarded by `cond`: the clock thread adds chunks, reader threads wait on it.
        self.cond = threading.Condition()
        self.maker = PacketMaker(self.id)
        self.seq = 0  # sequence number of the next packet made: the packets made so far
        self.credit = 0.0  # packets due at the rate but not made yet (the fraction of one)
        self.last_made = time.monotonic()
        self.chunks = collections.deque()  # recent chunks, numbered first_index .. next_index-1
        self.first_index = 0
        self.next_index = 0
        self.readers = 0
        self.bytes_sent = 0
        self.ended_by = None  # "stop" (command_url) or "sim" (/sim/session/<id>/end)

    def stats(self):
        """Advance the counters by the time since the last look, so they move like a live swarm."""
        now = time.monotonic()
        elapsed, self.last_stat = now - self.last_stat, now
        self.peers = min(40, max(5, self.peers + random.randint(-3, 3)))
        speed_down = random.randint(300, 1200)  # KB/s, as the engine reports them
        speed_up = random.randint(20, 300)
        self.downloaded += int(speed_down * 1024 * elapsed)
        self.uploaded += int(speed_up * 1024 * elapsed)
        return {
            "status": "dl",
            "peers": self.peers,
            "speed_down": speed_down,
            "speed_up": speed_up,
            "downloaded": self.downloaded,
            "uploaded": self.uploaded,
            "total_progress": 0,
            "playback_session_id": self.id,
            "is_live": 1,
            # As the engine reports it: strings, here epoch seconds of the live window.
            "livepos": {
                "pos": str(max(int(self.created), int(time.time()) - 2)),
                "live_first": str(int(self.created)),
                "live_last": str(int(time.time())),
                "first_ts": str(int(self.created)),
                "last_ts": str(int(time.time())),
                "is_live": "1",
                "buffer_pieces": "15",
            },
        }

    def advance(self, now, packets_per_s, stalled, backlog):
        """Make the packets due since the last call. While stalled the live position does not move
        (an engine without data has nothing to send), so players resume without a gap."""
        with self.cond:
            # At most a second's worth after a pause of the process (docker pause), not a burst.
            elapsed, self.last_made = min(now - self.last_made, 1.0), now
            if stalled or self.ended_by:
                return
            self.credit += elapsed * packets_per_s
            count = int(self.credit)
            if count == 0:
                return
            self.credit -= count
            if self.readers:
                self.chunks.append(self.maker.chunk(self.seq, count))
                while len(self.chunks) > backlog:
                    self.chunks.popleft()
                    self.first_index += 1
            else:  # nobody to read it: the number moves on, the bytes need not be made
                self.chunks.clear()
                self.first_index = self.next_index + 1
            self.next_index += 1
            self.seq += count
            self.cond.notify_all()

    def join(self):
        """Count a reader in; the index of the first chunk it gets: the next one made."""
        with self.cond:
            self.readers += 1
            return self.next_index

    def leave(self):
        with self.cond:
            self.readers -= 1

    def chunks_from(self, position, engine, deadline):
        """The chunks made since `position`, waiting for them; None when the reader must end."""
        with self.cond:
            while True:
                if self.ended_by or engine.fault in CUTTING_MODES or time.monotonic() >= deadline:
                    return None
                if position < self.first_index:
                    print(f"engine-sim: a reader of {self.id} fell {BACKLOG_S} s behind; cut")
                    return None
                if position < self.next_index and engine.fault != "stall_stream":
                    return list(itertools.islice(self.chunks, position - self.first_index, None))
                # Woken by each new chunk, a fault change or an end; the timeout is for the deadline.
                self.cond.wait(min(max(deadline - time.monotonic(), 0.01), 1.0))

    def sent(self, size):
        with self.cond:
            self.bytes_sent += size

    def end(self, by):
        with self.cond:
            self.ended_by = by
            self.chunks.clear()
            self.cond.notify_all()

    def describe(self):
        with self.cond:
            return {
                "id": self.id,
                "key": self.key,
                "infohash": self.infohash,
                "created": self.created,
                "readers": self.readers,
                "bytes_sent": self.bytes_sent,
                "packets": self.seq,
                "stopped": self.ended_by is not None,
                "ended_by": self.ended_by,
            }


class Engine:
    """State shared by the request threads of both listeners and the clock thread."""

    def __init__(self, fault, rate_kbps=64.0, chunk_s=0.1, stream_max_s=3600.0):
        self.lock = threading.Lock()
        self.sessions = {}  # every session, ended ones too (for /sim/sessions), oldest first
        self.fault = fault
        self.rate_kbps = rate_kbps
        self.chunk_s = chunk_s
        self.stream_max_s = stream_max_s

    def start_clock(self):
        threading.Thread(target=self.clock, daemon=True, name="ts-clock").start()

    def clock(self):
        """One thread paces every session, so the rate is per session, not per reader."""
        next_tick = time.monotonic()
        while True:
            next_tick += self.chunk_s
            delay = next_tick - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:  # late (a paused container, a busy host): carry on from now, not tick by tick
                next_tick = time.monotonic()
            now = time.monotonic()
            packets_per_s = self.rate_kbps * 1024 / TS_PACKET_SIZE
            backlog = max(2, int(BACKLOG_S / self.chunk_s))
            stalled = self.fault == "stall_stream"
            with self.lock:
                sessions = list(self.sessions.values())
            for session in sessions:
                session.advance(now, packets_per_s, stalled, backlog)

    def set_fault(self, mode):
        self.fault = mode
        with self.lock:
            sessions = list(self.sessions.values())
        for session in sessions:  # readers waiting for chunks look at the new mode at once
            with session.cond:
                session.cond.notify_all()

    def start_session(self, key):
        session = Session(key)
        with self.lock:
            self.sessions[session.id] = session
            ended = [s.id for s in self.sessions.values() if s.ended_by]
            for old in ended[:max(0, len(ended) - ENDED_KEPT)]:
                del self.sessions[old]
        return session

    def find(self, infohash, session_id):
        with self.lock:
            session = self.sessions.get(session_id)
        if session and session.infohash == infohash and not session.ended_by:
            return session
        return None

    def end(self, session_id, by):
        """End a live session; its readers are woken and close. False if unknown or ended."""
        with self.lock:
            session = self.sessions.get(session_id)
        if session is None or session.ended_by:
            return False
        session.end(by)
        return True

    def live_ids(self):
        with self.lock:
            return [s.id for s in self.sessions.values() if not s.ended_by]

    def describe(self):
        with self.lock:
            sessions = list(self.sessions.values())
        return [s.describe() for s in sessions]


class Handler(BaseHTTPRequestHandler):
    server_version = "AceStreamSim/3.2.11"
    engine = None  # set in main()
    ports = None

    def do_GET(self):
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        parts = url.path.strip("/").split("/")
        if parts[0] == "sim":
            self.sim(parts[1:], query)
            return
        fault = self.engine.fault
        if fault == "hang":
            self.hang()
        elif fault == "fail":
            self.send_json(500, {"error": "simulated failure"})
        elif fault == "nonjson":
            self.send_body(200, "text/html", b"<html>not json</html>")
        elif url.path == "/server/api":
            self.server_api(query)
        elif url.path == "/webui/api/service":
            self.service_api(query)
        elif url.path in ("/ace/getstream", "/ace/manifest.m3u8"):
            self.start(query)
        elif len(parts) == 4 and parts[:2] == ["ace", "r"]:
            self.play(parts[2], parts[3])
        elif len(parts) == 4 and parts[:2] == ["ace", "stat"]:
            self.stat(parts[2], parts[3])
        elif len(parts) == 4 and parts[:2] == ["ace", "cmd"]:
            self.stop_command(parts[2], parts[3], query)
        else:
            self.send_json(404, {"error": "not found"})

    def hang(self):
        # Hold the request unanswered while the fault lasts, then drop it: clients see a timeout.
        while self.engine.fault == "hang":
            time.sleep(0.2)
        self.close_connection = True

    def server_api(self, query):
        if query.get("method") == "get_status":
            self.send_json(200, {"result": {"status": 0, "version": "3.2.11-sim"}, "error": None})
        else:
            self.send_json(200, {"result": None, "error": "unknown method"})

    def service_api(self, query):
        if query.get("method") == "get_version":
            version = {"code": 3021100, "platform": "linux", "version": "3.2.11"}
            self.send_json(200, {"result": version, "error": None})
        else:
            self.send_json(200, {"result": None, "error": "unknown method"})

    def start(self, query):
        key = next((query[k] for k in CONTENT_KEYS if query.get(k)), None)
        if key is None:
            self.send_json(200, {"response": None, "error": "missing content id"})
            return
        session = self.engine.start_session(key)
        if query.get("format") != "json":
            self.stream(session)
            return
        # URLs built on the Host header point back through whatever port the client used.
        host = self.headers.get("Host") or f"127.0.0.1:{self.server.server_port}"
        tail = f"{session.infohash}/{session.id}"
        self.send_json(200, {
            "response": {
                "playback_url": f"http://{host}/ace/r/{tail}",
                "stat_url": f"http://{host}/ace/stat/{tail}",
                "command_url": f"http://{host}/ace/cmd/{tail}",
                "infohash": session.infohash,
                "playback_session_id": session.id,
                "is_live": 1,
            },
            "error": None,
        })

    def play(self, infohash, session_id):
        session = self.engine.find(infohash, session_id)
        if session is None:
            self.send_json(404, {"response": None, "error": "unknown playback session id"})
        else:
            self.stream(session)

    def stream(self, session):
        """The session's live TS until it ends, the player leaves, a stream fault cuts it or
        SIM_STREAM_MAX_S pass. The body has no length: the connection's end is the stream's end."""
        engine = self.engine
        self.send_response(200)
        self.send_header("Content-Type", "video/mp2t")
        self.end_headers()
        self.close_connection = True
        if engine.fault in CUTTING_MODES:
            return  # a new connection is cut at once too, right after its headers
        deadline = time.monotonic() + engine.stream_max_s
        position = session.join()
        next_seq = None  # of the packet this player would get next
        try:
            while True:
                chunks = session.chunks_from(position, engine, deadline)
                if chunks is None:
                    if engine.fault == "tear_stream" and next_seq is not None:
                        torn = PacketMaker(session.id).chunk(next_seq, 1)[:TORN_BYTES]
                        self.wfile.write(torn)
                        session.sent(len(torn))
                    return
                position += len(chunks)
                data = b"".join(chunks)
                last_packet = data[-TS_PACKET_SIZE:]
                next_seq = int.from_bytes(last_packet[TS_SEQ_AT:TS_SEQ_AT + 8], "big") + 1
                if engine.fault == "garbage_stream":
                    data = garbage(len(data))
                self.wfile.write(data)
                session.sent(len(data))
        except OSError:
            pass  # the player went away; the session lives on until stopped, as in the engine
        finally:
            session.leave()

    def stat(self, infohash, session_id):
        if self.engine.fault == "garbage_stats":
            self.send_body(200, "application/json", b"\x00\xff{garbage")
            return
        session = self.engine.find(infohash, session_id)
        if session is None:
            self.send_json(200, {"response": None, "error": "unknown playback session id"})
        else:
            with self.engine.lock:
                stats = session.stats()
            self.send_json(200, {"response": stats, "error": None})

    def stop_command(self, infohash, session_id, query):
        if self.engine.find(infohash, session_id) is None:
            self.send_json(200, {"response": None, "error": "unknown playback session id"})
        elif query.get("method") == "stop":
            self.engine.end(session_id, "stop")
            self.send_json(200, {"response": "ok", "error": None})
        else:
            self.send_json(200, {"response": None, "error": "unknown method"})

    def sim(self, parts, query):
        """Test controls, answered whatever the fault."""
        if parts == ["fault"]:
            mode = query.get("mode")
            if mode not in FAULT_MODES:
                self.send_json(400, {"error": "unknown mode", "modes": FAULT_MODES})
                return
            # In force before the answer: a client that saw it may rely on it at once.
            if mode != "exit":
                self.engine.set_fault(mode)
            self.send_json(200, {"fault": mode})
            if mode == "exit":
                os._exit(1)
        elif parts == ["rate"]:
            self.sim_rate(query)
        elif parts == ["sessions"]:
            self.send_json(200, self.engine.describe())
        elif parts == ["env"]:
            http_port, https_port = self.ports
            self.send_json(200, {
                "argv": sys.argv,
                "env": dict(os.environ),
                "http_port": http_port,
                "https_port": https_port,
                "sessions": self.engine.live_ids(),
            })
        elif len(parts) == 3 and parts[0] == "session" and parts[2] == "end":
            if self.engine.end(parts[1], "sim"):
                self.send_json(200, {"ended": parts[1]})
            else:
                self.send_json(404, {"error": "unknown playback session id"})
        else:
            self.send_json(404, {"error": "not found"})

    def sim_rate(self, query):
        if "kbps" in query:
            try:
                kbps = float(query["kbps"])
            except ValueError:
                kbps = 0
            if not kbps > 0:
                self.send_json(400, {"error": "kbps must be a positive number"})
                return
            self.engine.rate_kbps = kbps  # every session, from the clock's next tick
        engine = self.engine
        self.send_json(200, {
            "kbps": engine.rate_kbps,
            "chunk_ms": engine.chunk_s * 1000,
            "stream_max_s": engine.stream_max_s,
        })

    def send_json(self, code, payload):
        self.send_body(code, "application/json", json.dumps(payload).encode())

    def send_body(self, code, content_type, body):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print(f"engine-sim :{self.server.server_port} {fmt % args}")


def main():
    # As PID 1 in a container the process ignores SIGTERM unless it handles it.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    fault = os.environ.get("SIM_FAULT") or "ok"
    if fault not in FAULT_MODES:
        sys.exit(f"engine-sim: SIM_FAULT must be one of {', '.join(FAULT_MODES)}")
    rate_kbps = positive_env("SIM_RATE_KBPS", 64.0)
    chunk_s = positive_env("SIM_CHUNK_MS", 100.0) / 1000
    stream_max_s = positive_env("SIM_STREAM_MAX_S", 3600.0)
    exit_after = os.environ.get("SIM_EXIT_AFTER")
    if exit_after:
        threading.Timer(float(exit_after), os._exit, (1,)).start()
        fault = "ok" if fault == "exit" else fault
    elif fault == "exit":
        print("engine-sim: SIM_FAULT=exit")
        sys.exit(1)
    time.sleep(float(os.environ.get("SIM_START_DELAY") or 0))

    http_port = port_option("--http-port", "HTTP_PORT", 6878)
    https_port = port_option("--https-port", "HTTPS_PORT", 6879)
    Handler.engine = Engine(fault, rate_kbps, chunk_s, stream_max_s)
    Handler.engine.start_clock()
    Handler.ports = (http_port, https_port)
    http = ThreadingHTTPServer(("0.0.0.0", http_port), Handler)
    if https_port != http_port:
        https = ThreadingHTTPServer(("0.0.0.0", https_port), Handler)
        threading.Thread(target=https.serve_forever, daemon=True).start()
    print(
        f"engine-sim: listening http={http_port} https={https_port} fault={fault} "
        f"rate={rate_kbps:g}KiB/s chunk={chunk_s * 1000:g}ms"
    )
    http.serve_forever()


if __name__ == "__main__":
    main()
