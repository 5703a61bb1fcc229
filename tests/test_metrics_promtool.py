"""`promtool check metrics` accepts a real scrape with every kind of sample the collector writes:
VPN on, engines healthy and not, streams with awkward ids, jobs, histogram, extra counters."""

import shutil
import subprocess
from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import Counter, JobRun
from engines.models import Engine
from streams.models import StatSnapshot, Stream
from vpn.monitor import check_vpn

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]
pytest_plugins = ["tests.support.gluetun"]

PROMTOOL = shutil.which("promtool")
AWKWARD_ID = 'ch "42" \\ back\nslash|é'


def promtool_check(text: bytes) -> subprocess.CompletedProcess:
    return subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                          timeout=30)


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (Debian: prometheus)")
def test_a_full_scrape_passes_promtool(api, gluetun):
    check_vpn()
    engine = api.post("/provision/acestream", {"labels": {"x": "y"}}).json()
    api.post("/provision/acestream", {})
    Engine.objects.filter(container_id=engine["container_id"]).update(health_status="unhealthy")
    Engine.objects.create(container_id="ext-1", container_name="external-1", host="127.0.0.1",
                          host_http_port=6878, managed=False, state="running")
    for stream_id, peers in ((AWKWARD_ID, 7), ("plain", None)):
        stream = Stream.objects.create(id=stream_id, key_type="content_id", key="k",
                                       engine=Engine.objects.get(container_id=engine["container_id"]),
                                       container_id=engine["container_id"])
        StatSnapshot.objects.create(stream=stream, peers=peers, speed_down=120, speed_up=3)
    now = timezone.now()
    JobRun.record("health", now - timedelta(seconds=2))
    JobRun.record("reconcile", now - timedelta(seconds=1), error="DockerUnavailable: gone")
    Counter.add("orch_provision_failures_total", reason="image_unavailable")
    Counter.add("orch_things_done_total", 3, kind="odd \"quoted\" value")

    response = api.get("/metrics")
    assert response.status_code == 200
    result = promtool_check(response.content)
    assert result.returncode == 0, (result.stdout + result.stderr).decode()
    assert (result.stdout + result.stderr).strip() == b""
    text = response.content.decode()
    escaped_id = 'ch \\"42\\" \\\\ back\\nslash|é'
    assert f'orch_stream_peers{{engine="{engine["container_name"]}",stream_id="{escaped_id}"}} 7.0' in text
    assert "orch_vpn_up 1.0" in text and "orch_vpn_forwarded_port 5914.0" in text
    assert "django_http_requests_total_by_method_total" in text  # django-prometheus still there
