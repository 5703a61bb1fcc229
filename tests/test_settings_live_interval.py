"""With real processes: a saved COLLECT_INTERVAL_S applies at the collector loop's next tick,
not after the interval it was waiting out. The environment says every 20 s; saved 1 s, the stats
snapshots of a started stream arrive every second from about a second after the PATCH. Prints the
seconds from the saved setting to its effect."""

import statistics
import time
from datetime import datetime

import pytest

from tests.support.events import wait_for
from tests.support.live import Orchestrator
from tests.support.stream_events import acexy_started, play

pytestmark = [pytest.mark.docker, pytest.mark.live, pytest.mark.slow,
              pytest.mark.django_db(transaction=True)]


def test_a_saved_collect_interval_applies_at_the_next_tick(fleet, engine_image):
    orchestrator = Orchestrator(env={"TARGET_IMAGE": engine_image, "MIN_REPLICAS": "0",
                                     "COLLECT_INTERVAL_S": "20", "COLLECT_SPREAD": "0"})
    orchestrator.start()
    try:
        wait_for(lambda: "following Docker events" in orchestrator.logs("worker"), timeout=30)
        with orchestrator.client() as client:
            engine = client.post("/provision/acestream", json={"wait_ready": True}).json()
            port = engine["host_http_port"]
            started = client.post("/events/stream_started",
                                  json=acexy_started(play(port, "ch-1"), port, "ch-1"))
            assert started.status_code == 200, started.text
            stream_id = started.json()["id"]

            def snapshots() -> list[float]:
                answer = client.get(f"/streams/{stream_id}/stats").json()
                return sorted(datetime.fromisoformat(item["ts"]).timestamp() for item in answer)

            before = len(snapshots())
            saved = time.time()
            response = client.patch("/settings", json={"collect_interval_s": 1})
            assert response.status_code == 200, response.text
            arrived = wait_for(lambda: (found := snapshots())[before + 3:] and found, timeout=20,
                               interval=0.1)
            new = arrived[before:]
            first = new[0] - saved
            gaps = [b - a for a, b in zip(new, new[1:], strict=False)]
            print(f"\ncollect_interval_s 20 -> 1 ({before} snapshots before): first snapshot "
                  f"{first:.2f} s after the PATCH, then every {statistics.median(gaps):.2f} s "
                  f"(median of {len(gaps)})")
            assert first < 4, "the collector waited out the old interval"
            assert statistics.median(gaps) < 2
    finally:
        orchestrator.stop()
