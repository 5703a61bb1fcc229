"""AceStream engine simulator for tests: stdlib only, one file, runs in a FROM-scratch image.

Serves the engine API the orchestrator and proxies call (health, version, playback, stats, stop) and
/sim/* endpoints that tests use to inspect it and to inject faults.

Ports: HTTP from argv `--http-port=N` / `--http-port N`, else the CONF env lines (as the real image gets
them), else env HTTP_PORT, else 6878; the HTTPS port likewise (`--https-port`, HTTPS_PORT, 6879). Both
answer plain HTTP; the second one exists only so the port is bound like the real engine's.

Env switches read at start:
  SIM_FAULT        initial fault mode (see FAULT_MODES; `exit` exits 1 at once unless SIM_EXIT_AFTER)
  SIM_EXIT_AFTER   seconds after start at which the process exits with code 1
  SIM_START_DELAY  seconds to wait before listening (a slow engine start-up)
"""

import hashlib
import json
import os
import random
import secrets
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

FAULT_MODES = ("ok", "hang", "fail", "nonjson", "exit", "garbage_stats")
CONTENT_KEYS = ("id", "infohash", "content_id", "url", "magnet")
# An MPEG-TS packet: sync byte 0x47 then a zero payload; 16 of them every half second is ~6 KB/s.
TS_CHUNK = (b"\x47" + bytes(187)) * 16
CHUNK_INTERVAL_S = 0.5
STREAM_MAX_S = 60


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


class Session:
    def __init__(self, key):
        self.id = secrets.token_hex(16)
        self.infohash = hashlib.sha1(key.encode()).hexdigest()
        self.peers = random.randint(5, 40)
        self.downloaded = 0
        self.uploaded = 0
        self.last_stat = time.monotonic()

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
        }


class Engine:
    """State shared by the request threads of both listeners."""

    def __init__(self, fault):
        self.lock = threading.Lock()
        self.sessions = {}
        self.fault = fault

    def start_session(self, key):
        session = Session(key)
        with self.lock:
            self.sessions[session.id] = session
        return session

    def find(self, infohash, session_id):
        with self.lock:
            session = self.sessions.get(session_id)
        return session if session and session.infohash == infohash else None

    def end(self, session_id):
        with self.lock:
            return self.sessions.pop(session_id, None) is not None

    def alive(self, session_id):
        with self.lock:
            return session_id in self.sessions


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
        """Fake MPEG-TS until the session ends, the client leaves or STREAM_MAX_S pass."""
        self.send_response(200)
        self.send_header("Content-Type", "video/mp2t")
        self.end_headers()
        deadline = time.monotonic() + STREAM_MAX_S
        try:
            while time.monotonic() < deadline and self.engine.alive(session.id):
                self.wfile.write(TS_CHUNK)
                time.sleep(CHUNK_INTERVAL_S)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the player went away; the session lives on until stopped, as in the engine

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
            self.engine.end(session_id)
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
            self.send_json(200, {"fault": mode})
            if mode == "exit":
                os._exit(1)
            self.engine.fault = mode
        elif parts == ["env"]:
            with self.engine.lock:
                sessions = list(self.engine.sessions)
            http_port, https_port = self.ports
            self.send_json(200, {
                "argv": sys.argv,
                "env": dict(os.environ),
                "http_port": http_port,
                "https_port": https_port,
                "sessions": sessions,
            })
        elif len(parts) == 3 and parts[0] == "session" and parts[2] == "end":
            if self.engine.end(parts[1]):
                self.send_json(200, {"ended": parts[1]})
            else:
                self.send_json(404, {"error": "unknown playback session id"})
        else:
            self.send_json(404, {"error": "not found"})

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
    Handler.engine = Engine(fault)
    Handler.ports = (http_port, https_port)
    http = ThreadingHTTPServer(("0.0.0.0", http_port), Handler)
    if https_port != http_port:
        https = ThreadingHTTPServer(("0.0.0.0", https_port), Handler)
        threading.Thread(target=https.serve_forever, daemon=True).start()
    print(f"engine-sim: listening http={http_port} https={https_port} fault={fault}")
    http.serve_forever()


if __name__ == "__main__":
    main()
