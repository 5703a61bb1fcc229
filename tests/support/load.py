"""A paced stream-event load, shared by the load test and bench/events.py."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx


@dataclass
class EventLoad:
    """`rate` events a second for `duration` seconds: each stream is started, then ended, with a
    unique id, so afterwards every id must exist exactly once and be ended."""

    base_url: str
    api_key: str
    engine_port: int
    rate: float
    duration: float
    prefix: str = "load"
    statuses: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    stream_ids: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _body(self, number: int) -> dict:
        session = f"s{number}"
        key = f"{self.prefix}-{number}"
        base = f"http://localhost:{self.engine_port}"
        return {
            "engine": {"host": "localhost", "port": self.engine_port},
            "stream": {"key_type": "content_id", "key": key},
            "session": {"playback_session_id": session, "is_live": 1,
                        "stat_url": f"{base}/ace/stat/{key}/{session}",
                        "command_url": f"{base}/ace/cmd/{key}/{session}"},
            "labels": {"stream_id": key},
        }

    def _send(self, client: httpx.Client, number: int) -> None:
        stream_id = f"{self.prefix}-{number}"
        for path, body in (("/events/stream_started", self._body(number)),
                           ("/events/stream_ended", {"stream_id": stream_id, "reason": "load"})):
            began = time.perf_counter()
            try:
                status = client.post(path, json=body).status_code
            except httpx.HTTPError:
                status = 0
            with self._lock:
                self.statuses.append(status)
                self.latencies.append(time.perf_counter() - began)
        with self._lock:
            self.stream_ids.append(stream_id)

    def run(self, workers: int = 32) -> EventLoad:
        """Two events (start, end) per stream: `rate` / 2 streams a second."""
        clients = threading.local()

        def client() -> httpx.Client:
            if not hasattr(clients, "client"):
                clients.client = httpx.Client(
                    base_url=self.base_url, timeout=30,
                    headers={"Authorization": f"Bearer {self.api_key}"})
            return clients.client

        streams = int(self.rate * self.duration / 2)
        interval = 2 / self.rate
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for number in range(streams):
                delay = start + number * interval - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(lambda n=number: self._send(client(), n))
        self.elapsed = time.perf_counter() - start
        return self
