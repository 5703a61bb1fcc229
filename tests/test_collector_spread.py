"""The worker's collector pass spreads its stat_url requests over COLLECT_SPREAD of the interval instead of
sending them in one burst; a manual pass still sends them at once."""

import asyncio
import itertools
import json
import statistics
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from streams.collector import collect_pass, fetch_all, paced_pass
from tests.support.stream_events import provision, start_streams


class _StatServer(ThreadingHTTPServer):
    """Answers every GET with playing-session stats and notes when each request arrived."""

    def __init__(self):
        self.arrivals: list[tuple[float, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.arrivals.append((time.monotonic(), self.path))
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
    times = [moment - began for moment, _ in stat_server.arrivals]
    order = [int(path.removeprefix("/stat/")) for _, path in stat_server.arrivals]
    assert sorted(order) == list(range(10))
    # In URL order; the server's threads may record two that arrive together the other way round.
    assert all(abs(index - position) <= 1 for position, index in enumerate(order)), order
    assert times[0] < 0.3, "the first request goes out at once"
    assert times[-1] >= 0.9 * 9 / 10, "the last one starts nine steps of 0.1 s later"
    steps = [later - earlier for earlier, later in itertools.pairwise(times)]
    # The median: on a loaded machine the server's thread may take two arrivals late and together.
    assert statistics.median(steps) >= 0.07, f"requests not spread: {steps}"


def test_without_spread_all_requests_go_out_together(stat_server):
    began = time.monotonic()
    asyncio.run(fetch_all(_targets(stat_server, 10), timeout=2))

    assert len(stat_server.arrivals) == 10
    assert max(moment for moment, _ in stat_server.arrivals) - began < 0.5


@pytest.mark.docker
@pytest.mark.django_db(transaction=True)
def test_the_worker_pass_spreads_over_its_share_of_the_interval(api, fleet, orch):
    orch(COLLECT_INTERVAL_S=4, COLLECT_SPREAD=0.5)
    port = provision(api)["host_http_port"]
    start_streams(api, port, 4)

    paced = paced_pass()
    manual = collect_pass()

    assert (paced.stored, manual.stored) == (4, 4)
    # Four requests at steps of 2 s / 4: the last starts 1.5 s into the pass.
    assert paced.fetch_seconds >= 1.5
    assert manual.fetch_seconds < paced.fetch_seconds - 1.0
