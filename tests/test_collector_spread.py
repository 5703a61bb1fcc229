"""The worker's collector pass spreads its stat_url requests over COLLECT_SPREAD of the interval instead of
sending them in one burst; a manual pass still sends them at once."""

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from streams import collector
from streams.collector import fetch_all
from tests.support.stream_events import provision, start_streams


class _StatServer(ThreadingHTTPServer):
    """Answers every GET with playing-session stats and notes when each request arrived. With
    `together` set, each answer first waits at that barrier (until its parties are all in)."""

    def __init__(self):
        self.arrivals: list[tuple[float, str]] = []
        self.together: threading.Barrier | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.arrivals.append((time.monotonic(), self.path))
                if server.together is not None:
                    server.together.wait()
                body = json.dumps({"response": {"status": "dl", "peers": 3}}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def stat_server():
    server = _StatServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _targets(server: _StatServer, count: int) -> list[tuple[str, str]]:
    port = server.server_address[1]
    return [(f"s{number}", f"http://127.0.0.1:{port}/stat/{number:02d}") for number in
            reversed(range(count))]


def test_spread_requests_start_at_even_steps_in_url_order(stat_server):
    began = time.monotonic()
    outcomes = asyncio.run(fetch_all(_targets(stat_server, 10), timeout=2, spread_seconds=1.0))

    assert all(outcome.stats and outcome.stats["peers"] == 3 for outcome in outcomes.values())
    arrivals = [(int(path.removeprefix("/stat/")), moment - began)
                for moment, path in stat_server.arrivals]
    order = [index for index, _ in arrivals]
    assert sorted(order) == list(range(10))
    # In URL order; the server's threads may record two that arrive together the other way round.
    assert all(abs(index - position) <= 1 for position, index in enumerate(order)), order
    # Each one waited its steps of 0.1 s before it went out (a loaded machine only adds to that).
    early = [(index, round(after, 3)) for index, after in arrivals if after < index * 0.1]
    assert not early, f"requests sent before their step: {early}"


def test_without_spread_an_engines_requests_are_in_flight_together(stat_server):
    # As many streams as one engine is asked at a time, and no answer until all are in:
    # requests sent one after another would never all arrive.
    count = collector.PER_ENGINE_REQUESTS
    stat_server.together = threading.Barrier(count, timeout=8)
    outcomes = asyncio.run(fetch_all(_targets(stat_server, count), timeout=10))

    assert not stat_server.together.broken, "the requests did not go out together"
    assert len(outcomes) == count
    assert all(outcome.stats and outcome.stats["peers"] == 3 for outcome in outcomes.values())


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
def test_the_worker_pass_spreads_over_its_share_of_the_interval(api, fleet, orch, monkeypatch):
    orch(COLLECT_INTERVAL_S=4, COLLECT_SPREAD=0.5)
    port = provision(api)["host_http_port"]
    start_streams(api, port, 4)
    spreads = []
    spread_fetch = collector.fetch_all

    def noting_the_spread(targets, timeout, spread_seconds=0.0):
        spreads.append(spread_seconds)
        return spread_fetch(targets, timeout, spread_seconds)

    monkeypatch.setattr(collector, "fetch_all", noting_the_spread)

    paced = collector.paced_pass()
    manual = collector.collect_pass()

    assert (paced.stored, manual.stored) == (4, 4)
    # The worker's pass over half of its 4 s interval; a manual one all at once (how fetch_all
    # spreads or bunches the requests is the tests' above).
    assert spreads == [2.0, 0.0]
    # Four requests at steps of 2 s / 4: the last starts 1.5 s into the pass.
    assert paced.fetch_seconds >= 1.5
