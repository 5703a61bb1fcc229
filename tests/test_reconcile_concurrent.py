import threading

import pytest
from django.db import connection

from engines import sync
from engines.models import Engine
from tests.support.events import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def test_concurrent_reconcile_passes_never_overshoot_the_target(api, fleet, orch, settings):
    orch(MIN_REPLICAS=3)
    errors = []

    def run():
        try:
            sync.reconcile()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors
    assert Engine.objects.managed().count() == 3
    assert len(fleet.containers.list(filters={"label": settings.ORCH.CONTAINER_LABEL})) == 3
    assert sync.reconcile()["provisioned"] == 0


def test_reconcile_keeps_an_engine_docker_is_restarting(api, fleet, orch):
    orch(MIN_REPLICAS=0)
    # An engine that crashes at every start: Docker's restart policy keeps bringing it back.
    body = api.post("/provision/acestream", {"env": {"SIM_FAULT": "exit"}}).json()
    container = fleet.containers.get(body["container_id"])
    wait_for(lambda: container.reload() or container.status == "restarting", timeout=10)

    summary = sync.reconcile()

    # Kept as the same engine (it is `exited` or, between two crashes, `running` again).
    assert summary["forgotten"] == summary["removed_dead"] == 0
    assert Engine.objects.filter(container_id=body["container_id"]).exists()
    assert fleet.containers.get(body["container_id"]).attrs["RestartCount"] >= 1


def test_engines_started_by_reconcile_get_their_first_check_queued(fleet, orch):
    from django_q.models import OrmQ

    orch(MIN_REPLICAS=2)
    sync.reconcile()
    assert OrmQ.objects.count() == 2  # one engines.jobs.check_until_ready per new engine
