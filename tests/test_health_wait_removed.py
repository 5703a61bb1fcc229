"""Waiting for a new engine to answer get_status ends as soon as the engine is removed (its
container died and stayed down): a first check would otherwise hold one of the worker's task
threads for the whole STARTUP_TIMEOUT_S, polling a port nobody listens on."""

import pytest

from engines import health
from engines.models import Engine, State
from tests.support.live import free_port

pytestmark = pytest.mark.django_db


def engine_on_a_closed_port() -> Engine:
    return Engine.objects.create(container_id="d" * 64, container_name="ace-gone", host="127.0.0.1",
                                 host_http_port=free_port(), state=State.STARTING)


def test_a_removed_engine_ends_the_wait(orch):
    orch(STARTUP_TIMEOUT_S=20)
    engine = engine_on_a_closed_port()
    Engine.objects.filter(pk=engine.pk).delete()  # as the Docker events listener forgets it
    assert health.wait_for_engine(engine) == health.REMOVED


def test_an_engine_still_there_is_waited_for_until_the_deadline(orch):
    orch(STARTUP_TIMEOUT_S=2)
    engine = engine_on_a_closed_port()
    assert health.wait_for_engine(engine) == "connection refused"
    engine.refresh_from_db()
    assert engine.last_health_error == "connection refused"
