"""A saved interval of a schedule re-writes the worker's schedules (from the site's receiver of
core's settings_changed signal), its next run taken from the new cron; a saved replica target
queues a reconcile pass for the worker at once; other settings leave both alone."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import OrmQ, Schedule

from core.notify import wait_until_sent
from orchestrator_site.schedules import cron_every, ensure_schedules

pytestmark = pytest.mark.django_db


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run what the change does once committed (tests run inside a transaction)."""

    def patch(api, body):
        with django_capture_on_commit_callbacks(execute=True):
            response = api.request("patch", "/settings", body)
        wait_until_sent()  # what other receivers announced, while the test's layer is in place
        assert response.status_code == 200, response.content
        return response

    return patch


def queued() -> list[str]:
    return [task.func() for task in OrmQ.objects.all()]


def test_a_saved_interval_rewrites_the_schedule_and_its_next_run(api, orch, committed):
    orch(AUTOSCALE_INTERVAL_S=3600, HEALTH_CHECK_INTERVAL_S=30)
    ensure_schedules()
    reconcile = Schedule.objects.get(name="reconcile")
    assert reconcile.cron == cron_every(3600)
    Schedule.objects.filter(pk=reconcile.pk).update(next_run=timezone.now() + timedelta(hours=1))

    committed(api, {"autoscale_interval_s": 2})
    reconcile.refresh_from_db()
    assert reconcile.cron == cron_every(2)
    assert reconcile.next_run <= timezone.now() + timedelta(seconds=2)
    assert Schedule.objects.get(name="health").cron == cron_every(30)
    assert queued() == []  # the interval alone asks for no extra pass

    api.delete("/settings/autoscale_interval_s")  # outside the capture: not run, not announced
    assert Schedule.objects.get(name="reconcile").cron == cron_every(2)
    ensure_schedules()
    assert Schedule.objects.get(name="reconcile").cron == cron_every(3600)


def test_a_saved_replica_target_queues_a_reconcile_pass(api, orch, committed):
    orch(MIN_REPLICAS=0)
    committed(api, {"collect_interval_s": 2})
    assert queued() == []
    committed(api, {"min_replicas": 2})
    assert queued() == ["orchestrator_site.schedules.reconcile_with_saved_settings"]
