"""The Docker daemon restarted while the listener runs: the events stream ends silently, the
listener reconnects, re-reads the fleet, and sees deaths on the new daemon.

Restarts this machine's dockerd (tests/support/dockerd.py)."""

import pytest

from engines import health
from engines.models import Engine
from tests.support.dockerd import dockerd_restarter
from tests.support.events import EVENT_DEADLINE_S, listening, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.alone, pytest.mark.slow,
              pytest.mark.django_db(transaction=True)]


def test_the_listener_reconnects_after_dockerd_restarts(api, fleet):
    body = api.post("/provision/acestream", {"wait_ready": True}).json()
    with dockerd_restarter() as restart, listening() as listener:
        listener.connected.clear()
        restart()
        # Reconnected to the new daemon and re-read the fleet: the engine, restarted by its
        # unless-stopped policy, is running and listed with its container and port.
        assert listener.connected.wait(15), "the listener did not reconnect"
        engine = wait_for(lambda: Engine.objects.filter(container_id=body["container_id"],
                                                        state="running").first(), EVENT_DEADLINE_S)
        assert engine.host_http_port == body["host_http_port"]
        assert health.poll_get_status("127.0.0.1", body["host_http_port"], 10) == ""

        # The new event stream works: the listener notices a removal.
        fleet.containers.get(body["container_id"]).remove(force=True)
        wait_for(lambda: api.get(f"/engines/{body['container_id']}").status_code == 404,
                 EVENT_DEADLINE_S)
