"""Job heartbeats, the provision duration histogram and counters added by other modules, as the
scrape shows them."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from core.models import Counter, JobRun
from engines.provisioning import record_provision_duration

pytestmark = pytest.mark.django_db


def scrape() -> tuple[dict, dict]:
    families = list(text_string_to_metric_families(Client().get("/metrics").content.decode()))
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in families for s in family.samples}
    return samples, {family.name: family for family in families}


def test_job_durations_failures_and_time_since_success():
    now = timezone.now()
    JobRun.record("health", now - timedelta(seconds=2))
    JobRun.record("collector", now - timedelta(seconds=0.3))
    JobRun.record("reconcile", now - timedelta(seconds=1))
    JobRun.objects.filter(name="reconcile").update(last_success=now - timedelta(seconds=100))
    JobRun.record("reconcile", now - timedelta(seconds=1), error="DockerUnavailable: gone")
    JobRun.record("vpn", now, error="never worked")
    samples, _ = scrape()
    assert 2 <= samples[("orch_job_last_duration_seconds", (("job", "health"),))] < 3
    assert 0.3 <= samples[("orch_job_last_duration_seconds", (("job", "collector"),))] < 1
    assert samples[("orch_job_last_run_failed", (("job", "health"),))] == 0
    assert samples[("orch_job_last_run_failed", (("job", "reconcile"),))] == 1
    assert 100 <= samples[("orch_job_seconds_since_last_success", (("job", "reconcile"),))] < 105
    assert samples[("orch_job_seconds_since_last_success", (("job", "health"),))] < 5
    assert ("orch_job_seconds_since_last_success", (("job", "vpn"),)) not in samples


def test_provision_durations_fill_cumulative_buckets():
    for seconds in (0.7, 4, 100):
        record_provision_duration(seconds)
    samples, _ = scrape()

    def bucket(le):
        return samples[("orch_provision_duration_seconds_bucket", (("le", le),))]

    assert [bucket(le) for le in ("0.25", "0.5", "1.0", "3.0", "5.0", "60.0", "+Inf")] == [
        0, 0, 1, 1, 2, 2, 3]
    assert samples[("orch_provision_duration_seconds_count", ())] == 3
    assert samples[("orch_provision_duration_seconds_sum", ())] == pytest.approx(104.7)


def test_counters_of_other_modules_are_exported_when_well_named():
    Counter.add("orch_health_checks_total", 5, result="healthy")
    Counter.add("orch_health_checks_total", 1, result="unhealthy")
    Counter.add("orch_provision_failures_total", reason="port_in_use")
    Counter.add("orch_bad-name_total")
    Counter.add("orch_not_a_counter")
    samples, families = scrape()
    assert samples[("orch_health_checks_total", (("result", "healthy"),))] == 5
    assert samples[("orch_health_checks_total", (("result", "unhealthy"),))] == 1
    assert families["orch_health_checks"].type == "counter"
    assert samples[("orch_provision_failures_total", (("reason", "port_in_use"),))] == 1
    assert not [name for name, _ in samples if "bad" in name or name == "orch_not_a_counter"]
