"""The web's HTTP handler against Django's own, on the same database and the same daphne: the
hot reads (50 engines, 500 streams, 8 clients) and stream events at 100 a second. Ours
(orchestrator_site/http_handler.py) runs middleware and view in one call on long-lived threads;
Django's ASGIHandler (the documented way, bench/django_asgi.py) adapts every sync middleware
through sync_to_async and runs each request on a thread of its own.

Run: python -m bench.web_handler
"""

from __future__ import annotations

import subprocess
import sys

from bench.common import Row, median, percentile, print_table
from bench.fleet import CLIENTS, read_latencies
from tests.support.live import Orchestrator, free_port
from tests.support.load import EventLoad

HANDLERS = {"ours": "orchestrator_site.asgi:application",
            "Django's ASGIHandler": "bench.django_asgi:application"}
ENGINES, STREAMS_PER_ENGINE = 50, 10
EVENT_RATE, EVENT_SECONDS = 100, 30
FLEET = f"""
from engines.models import Engine, State
from streams.models import Stream
for number in range({ENGINES}):
    engine = Engine.objects.create(container_id=f"bench-{{number}}", container_name=f"bench-{{number}}",
        host="127.0.0.1", host_http_port=21000 + number, container_http_port=21000 + number,
        state=State.RUNNING, health_status="healthy")
    for stream in range({STREAMS_PER_ENGINE}):
        Stream.objects.create(id=f"k{{number}}-{{stream}}|s", key_type="content_id", key="k",
            engine=engine, container_id=engine.container_id, status="started")
"""


def measure(orchestrator: Orchestrator, application: str) -> dict:
    port = free_port()
    daphne = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                               application], env=orchestrator.env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        orchestrator.port, orchestrator.base_url = port, f"http://127.0.0.1:{port}"
        orchestrator.wait_http()
        reads = read_latencies(orchestrator, [{"container_id": "bench-0"}])
        load = EventLoad(orchestrator.base_url, orchestrator.api_key, 21000, rate=EVENT_RATE,
                         duration=EVENT_SECONDS).run()
        return {**reads, "events": {"per_s": len(load.statuses) / load.elapsed,
                                    "p50": median(load.latencies) * 1000,
                                    "p99": percentile(load.latencies, 99) * 1000}}
    finally:
        daphne.terminate()
        daphne.wait(timeout=15)


def main() -> list[Row]:
    orchestrator = Orchestrator(processes=())
    orchestrator.prepare()
    orchestrator.manage("shell", "-c", FLEET)
    found = {name: measure(orchestrator, application) for name, application in HANDLERS.items()}
    ours, django = found["ours"], found["Django's ASGIHandler"]
    rows = []
    for kind, what in (("engines", "GET /engines"), ("streams", "GET /streams?container_id&status=started")):
        for pct in ("p50", "p99"):
            rows.append(Row(f"{what} {pct}, {ENGINES} engines, {CLIENTS} clients: ours vs Django's",
                            ours[kind][pct], django[kind][pct],
                            "< 50 ms" if pct == "p99" else "-", unit="ms"))
    rows += [
        Row(f"events at {EVENT_RATE}/s, p99: ours vs Django's", ours["events"]["p99"],
            django["events"]["p99"], "< 100 ms", unit="ms"),
        Row(f"events at {EVENT_RATE}/s answered per second: ours vs Django's",
            ours["events"]["per_s"], django["events"]["per_s"], f">= {EVENT_RATE}/s", unit="/s"),
    ]
    print_table("web handler (baseline: Django's own ASGIHandler, same daphne and database)", rows)
    return rows


if __name__ == "__main__":
    main()
