"""Gluetun control-server simulator for tests: stdlib only, one file, runs in a FROM-scratch image.

Runs as the long-lived container whose network namespace engine containers join, so it only has to
serve the control API; the engines' ports are published on its container.

Env read at start (each one also settable at runtime through GET /sim/set):
  SIM_CONTROL_PORT    control-server port (8000)
  SIM_VPN_STATUS      running | stopped (running)
  SIM_PUBLIC_IP       (203.0.113.7)
  SIM_FORWARDED_PORT  (5914; empty = no port forwarded, answered as 0)
  SIM_API_KEY         unset or empty = no auth; else /v1/* need header `X-API-Key: <key>`, else 401
  SIM_API_VERSION     new: /v1/portforward and /v1/openvpn/portforwarded; old: only the latter (new)
"""

import json
import os
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

STATUSES = ("running", "stopped")
API_VERSIONS = ("new", "old")
LOCATION = {
    "region": "North Holland",
    "country": "Netherlands",
    "city": "Amsterdam",
    "hostname": "sim-nl-01",
    "location": "52.3740,4.8897",
    "organization": "Simulated VPN B.V.",
    "postal_code": "1012",
    "timezone": "Europe/Amsterdam",
}


def parse_port(value):
    return int(value) if value else 0


class Control:
    """The simulated Gluetun state, shared by request threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.state = {
            "status": os.environ.get("SIM_VPN_STATUS") or "running",
            "public_ip": os.environ.get("SIM_PUBLIC_IP") or "203.0.113.7",
            "port": parse_port(os.environ.get("SIM_FORWARDED_PORT", "5914")),
            "api_key": os.environ.get("SIM_API_KEY") or None,
            "api_version": os.environ.get("SIM_API_VERSION") or "new",
        }
        problem = self.check(self.state)
        if problem:
            raise SystemExit(f"gluetun-sim: {problem}")

    @staticmethod
    def check(state):
        if state["status"] not in STATUSES:
            return f"status must be one of {STATUSES}"
        if state["api_version"] not in API_VERSIONS:
            return f"api_version must be one of {API_VERSIONS}"
        return None

    def snapshot(self):
        with self.lock:
            return dict(self.state)

    def update(self, changes):
        """Apply all changes or none; returns (new state, problem)."""
        with self.lock:
            candidate = {**self.state, **changes}
            problem = self.check(candidate)
            if problem is None:
                self.state = candidate
            return dict(self.state), problem


class Handler(BaseHTTPRequestHandler):
    server_version = "GluetunSim/1"
    control = None  # set in main()

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path.startswith("/sim/"):
            self.sim(url.path, parse_qs(url.query, keep_blank_values=True))
            return
        if not self.authorized():
            return
        state = self.control.snapshot()
        if url.path in ("/v1/vpn/status", "/v1/openvpn/status"):
            self.send_json(200, {"status": state["status"]})
        elif url.path == "/v1/publicip/ip":
            self.send_json(200, {"public_ip": state["public_ip"], **LOCATION})
        elif url.path == "/v1/openvpn/portforwarded" or (
            url.path == "/v1/portforward" and state["api_version"] == "new"
        ):
            self.send_json(200, {"port": state["port"]})
        else:
            self.send_text(404, "404 page not found")

    def do_PUT(self):
        url = urlsplit(self.path)
        if not self.authorized():
            return
        if url.path not in ("/v1/vpn/status", "/v1/openvpn/status"):
            self.send_text(404, "404 page not found")
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            status = json.loads(self.rfile.read(length))["status"]
        except (ValueError, KeyError, TypeError):
            self.send_text(400, "cannot decode JSON body with a status field")
            return
        _, problem = self.control.update({"status": status})
        if problem:
            self.send_text(400, problem)
        else:
            self.send_json(200, {"outcome": status})

    def authorized(self):
        key = self.control.snapshot()["api_key"]
        if key and self.headers.get("X-API-Key") != key:
            self.send_text(401, "Unauthorized")
            return False
        return True

    def sim(self, path, query):
        """Test controls, never behind auth."""
        if path == "/sim/state":
            self.send_json(200, self.control.snapshot())
        elif path == "/sim/set":
            changes = {k: v[0] for k, v in query.items()}
            unknown = set(changes) - {"status", "public_ip", "port", "api_key", "api_version"}
            if unknown:
                self.send_json(400, {"error": f"unknown fields {sorted(unknown)}"})
                return
            try:
                if "port" in changes:
                    changes["port"] = parse_port(changes["port"])
            except ValueError:
                self.send_json(400, {"error": "port must be an integer"})
                return
            if "api_key" in changes:
                changes["api_key"] = changes["api_key"] or None
            state, problem = self.control.update(changes)
            if problem:
                self.send_json(400, {"error": problem})
            else:
                self.send_json(200, state)
        else:
            self.send_json(404, {"error": "not found"})

    def send_json(self, code, payload):
        self.send_body(code, "application/json", json.dumps(payload).encode())

    def send_text(self, code, text):
        self.send_body(code, "text/plain; charset=utf-8", text.encode())

    def send_body(self, code, content_type, body):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print(f"gluetun-sim {fmt % args}")


def main():
    # As PID 1 in a container the process ignores SIGTERM unless it handles it.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    Handler.control = Control()
    port = int(os.environ.get("SIM_CONTROL_PORT") or 8000)
    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    print(f"gluetun-sim: control server on {port}, state {Handler.control.snapshot()}")
    server.serve_forever()


if __name__ == "__main__":
    main()
