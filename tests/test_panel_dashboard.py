"""/panel: staff only, first paint rendered with the fleet's data, everything escaped, the same
data as JSON for the live re-renders, Chart.js served from our own static files."""

import re
from datetime import timedelta

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from django.utils import timezone

from engines.models import Engine, Health, State
from streams.models import StatSnapshot, Stream
from vpn.models import VpnState, VpnTransition

pytestmark = pytest.mark.django_db

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def staff(django_user_model):
    client = Client()
    client.force_login(django_user_model.objects.create_user("ops", password="pw", is_staff=True))
    return client


@pytest.fixture
def fleet_rows():
    now = timezone.now()
    healthy = Engine.objects.create(
        container_id="c1" * 32, container_name="ace-healthy", host="127.0.0.1", host_http_port=19001,
        state=State.RUNNING, health_status=Health.HEALTHY, last_health_check=now - timedelta(minutes=3),
        first_seen=now - timedelta(hours=2, minutes=5), labels={"note": XSS, "acestream.http_port": "19001"},
        p2p_port=5914,
    )
    Engine.objects.create(
        container_id="c2" * 32, container_name="ace-sick", host="127.0.0.1", host_http_port=19002,
        state=State.RUNNING, health_status=Health.UNHEALTHY, last_health_error="get_status timed out",
    )
    Engine.objects.create(container_id="c3" * 32, container_name="ace-new", host="127.0.0.1",
                          host_http_port=19003, state=State.RUNNING)
    Engine.objects.create(container_name="ace-reserving", host="127.0.0.1", state=State.STARTING)
    stream = Stream.objects.create(id=XSS, key_type="infohash", key="ab" * 20, engine=healthy,
                                   container_id=healthy.container_id, labels={"stream_id": XSS})
    for seconds, down in ((10, 500), (5, 2048)):
        StatSnapshot.objects.create(stream=stream, ts=now - timedelta(seconds=seconds), peers=12,
                                    speed_down=down, speed_up=100)
    Stream.objects.create(id="ended", key_type="content_id", key="x", container_id="c1" * 32,
                          status="ended")
    return healthy


def test_anonymous_and_non_staff_are_sent_to_the_login(client, django_user_model):
    response = client.get("/panel")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/panel")
    client.force_login(django_user_model.objects.create_user("viewer", password="pw"))
    assert client.get("/panel").status_code == 302
    assert client.get("/panel/")["Location"] == "/panel"


def test_first_paint_has_the_data(staff, fleet_rows):
    response = staff.get("/panel")
    assert response.status_code == 200
    page = response.content.decode()
    kpi = dict(re.findall(r'data-kpi="(\w+)">([^<]*)<', page))
    assert kpi["healthy"] == "1"
    assert kpi["unhealthy"] == "1"
    assert kpi["unknown"] == "1"  # the engine still being created is not listed
    assert kpi["active_streams"] == "1"
    assert kpi["speed_down"] == "2.0 MB/s"  # the latest snapshot, not the sum of history
    assert kpi["speed_up"] == "100 KB/s"
    assert kpi["peers"] == "12"
    assert kpi["vpn"] == "disabled"
    assert "ace-healthy" in page and "ace-sick" in page and "ace-reserving" not in page
    assert "get_status timed out" in page
    assert "127.0.0.1:19001" in page
    assert "3 min ago" in page  # last check, in words
    assert "2 h 5 min" in page  # uptime
    assert "P2P 5914" in page  # the forwarded-port engine is marked
    assert "acestream.http_port" not in page  # the orchestrator's own labels are not shown


def test_every_value_is_escaped(staff, fleet_rows):
    page = staff.get("/panel").content.decode()
    assert XSS not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_no_script_or_style_from_another_host(staff):
    page = staff.get("/panel").content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(source.startswith(("/", "#")) for source in sources), sources
    assert "/static/panel/vendor/chartjs-4.6.1/chart.umd.min.js" in sources
    assert finders.find("panel/vendor/chartjs-4.6.1/chart.umd.min.js")
    assert "MIT" in open(finders.find("panel/vendor/chartjs-4.6.1/LICENSE.md")).read()
    assert "localStorage" not in open(finders.find("panel/panel.js")).read()


def test_state_json_requires_staff_and_says_so_in_json(client, django_user_model):
    response = client.get("/panel/state.json")
    assert response.status_code == 401
    assert response.json() == {"detail": "log in first"}
    client.force_login(django_user_model.objects.create_user("viewer", password="pw"))
    response = client.get("/panel/state.json")
    assert response.status_code == 403
    assert response.json() == {"detail": "staff only"}


def test_state_json_matches_the_first_paint(staff, fleet_rows):
    state = staff.get("/panel/state.json").json()
    assert state["kpis"]["engines"] == {"healthy": 1, "unhealthy": 1, "unknown": 1, "total": 3,
                                        "min_replicas": 0, "healthy_level": "ok"}
    assert state["kpis"]["speed_down"] == 2048
    assert [engine["name"] for engine in state["engines"]] == ["ace-healthy", "ace-new", "ace-sick"]
    healthy = state["engines"][0]
    assert healthy["labels"] == {"note": XSS}  # raw in JSON; panel.js writes it as text
    assert healthy["active_streams"] == 1
    assert healthy["forwarded"] is True
    assert healthy["last_check"].endswith(("Z", "+00:00"))
    [stream] = state["streams"]
    assert stream["id"] == XSS
    assert stream["latest"]["speed_down"] == 2048
    assert state["vpn"]["status"] == "disabled"


def test_vpn_card_shows_the_monitor_state_and_transitions(staff, orch):
    orch(GLUETUN_CONTAINER_NAME="gluetun")
    VpnState.objects.create(pk=1, container_name="gluetun", container_status="running",
                            health="healthy", public_ip="203.0.113.7", forwarded_port=5914,
                            last_check=timezone.now())
    VpnTransition.objects.create(kind="port_changed", detail="none → 5914")
    page = staff.get("/panel").content.decode()
    assert 'data-kpi="vpn">connected<' in page
    assert "203.0.113.7 · port 5914" in page
    assert "port_changed" in page and "none → 5914" in page
    VpnState.objects.filter(pk=1).update(health="unhealthy")
    assert staff.get("/panel/state.json").json()["vpn"]["status"] == "down"
