"""Engines in the admin: coloured health, filters and search; provision n, stop-and-remove,
restart and check health ask first, then act on real containers through the same services as
the API and say what they did; Docker's fields are read-only."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from engines import health
from engines.models import Engine, Health, State
from streams.models import Stream
from tests.support.stream_events import acexy_started, play

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]

CHANGELIST = "/admin/engines/engine/"
PROVISION = f"{CHANGELIST}provision/"


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def provision_from_admin(admin_client, count: int = 1) -> list[Engine]:
    response = admin_client.post(PROVISION, {"count": count, "post": "yes"}, follow=True)
    assert response.status_code == 200
    assert any(text.startswith(f"Provisioned {count} engine(s)") for text in messages_of(response)), \
        messages_of(response)
    return list(Engine.objects.order_by("container_name"))


def test_provision_asks_how_many_then_starts_them(admin_client, fleet):
    page = admin_client.get(CHANGELIST).content.decode()
    assert f'href="{PROVISION}"' in page and "Provision engines" in page
    assert "/static/panel/admin-live.js" in page  # the list follows the fleet socket

    form = admin_client.get(PROVISION + "?count=2")
    assert form.status_code == 200
    text = form.content.decode()
    assert 'name="count"' in text and 'value="2"' in text and "Start new engines?" in text
    assert not Engine.objects.exists()  # asking starts nothing

    refused = admin_client.post(PROVISION, {"count": 0, "post": "yes"})
    assert refused.status_code == 422 and not Engine.objects.exists()

    engines = provision_from_admin(admin_client, count=2)
    assert len(engines) == 2
    for engine in engines:
        assert fleet.containers.get(engine.container_id).status == "running"
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403  # new engines come from Docker


def test_provision_reports_the_gates_refusal(admin_client, fleet, orch):
    orch(MAX_REPLICAS=1)
    response = admin_client.post(PROVISION, {"count": 2, "post": "yes"}, follow=True)
    said = messages_of(response)
    assert any(text.startswith("Provisioned 1 engine(s)") for text in said), said
    assert any("Could not provision engine 2 of 2: maximum number of engines reached (1)" in text
               for text in said), said
    assert Engine.objects.count() == 1


def test_check_health_now_and_stop_and_remove_ask_first(admin_client, fleet):
    [engine] = provision_from_admin(admin_client)
    assert health.poll_get_status(engine.host, engine.port, 10) == ""
    checking = {"action": "check_health_now", "_selected_action": [engine.pk]}
    confirm = admin_client.post(CHANGELIST, checking).content.decode()
    assert "Ask these 1 engines for get_status now?" in confirm
    response = admin_client.post(CHANGELIST, {**checking, "post": "yes"}, follow=True)
    assert f"Healthy: {engine.container_name}." in messages_of(response)
    engine.refresh_from_db()
    assert engine.health_status == Health.HEALTHY and engine.last_health_check is not None

    selected = {"action": "stop_and_remove", "_selected_action": [engine.pk]}
    confirm = admin_client.post(CHANGELIST, selected).content.decode()
    assert "Stop and remove these 1 engines?" in confirm
    assert "None of them has a started stream." in confirm
    assert Engine.objects.filter(pk=engine.pk).exists()
    response = admin_client.post(CHANGELIST, {**selected, "post": "yes"}, follow=True)
    assert f"Stopped and removed 1 engine(s): {engine.container_name}." in messages_of(response)
    assert not Engine.objects.exists()
    assert not fleet.containers.list(all=True, filters={"id": engine.container_id})
    assert "delete_selected" not in admin_client.get(CHANGELIST).content.decode()


def test_restart_asks_then_restarts_the_container_and_ends_its_streams(admin_client, api, fleet):
    [engine] = provision_from_admin(admin_client)
    assert health.poll_get_status(engine.host, engine.port, 10) == ""
    started = api.post("/events/stream_started",
                       acexy_started(play(engine.port, "ch-restart"), engine.port, "ch-restart"))
    assert started.status_code == 200, started.content
    before = fleet.containers.get(engine.container_id).attrs["State"]["StartedAt"]

    selected = {"action": "restart_selected", "_selected_action": [engine.pk]}
    confirm = admin_client.post(CHANGELIST, selected).content.decode()
    assert "Restart the containers of these 1 engines?" in confirm
    assert f"Their streams end: {engine.container_name} (1 started)." in confirm
    assert fleet.containers.get(engine.container_id).attrs["State"]["StartedAt"] == before

    response = admin_client.post(CHANGELIST, {**selected, "post": "yes"}, follow=True)
    assert any(text.startswith(f"Restarted 1 engine(s): {engine.container_name}")
               for text in messages_of(response)), messages_of(response)
    container = fleet.containers.get(engine.container_id)
    assert container.status == "running" and container.attrs["State"]["StartedAt"] != before
    stream = Stream.objects.get(pk=started.json()["id"])
    assert (stream.status, stream.ended_reason) == ("ended", "engine_restarted")
    assert health.poll_get_status(engine.host, engine.port, 15) == ""  # it serves again


def test_engine_list_shows_idle_time_uptime_and_the_vpn_marker(admin_client):
    now = timezone.now()
    Engine.objects.create(container_id="v" * 64, container_name="ace-vpn", host="127.0.0.1",
                          host_http_port=19005, state=State.RUNNING, network_parent_id="g" * 64,
                          p2p_port=5914, first_seen=now - timedelta(hours=3, minutes=2),
                          idle_since=now - timedelta(minutes=7))
    page = admin_client.get(CHANGELIST).content.decode()
    headers = dict(re.findall(r'class="[^"]*column-(\w+)">.*?<(?:a|span)[^>]*>([^<]+)<', page, re.S))
    assert [headers[name] for name in ("active_streams", "idle", "uptime", "vpn")] == [
        "Streams", "Idle for", "Uptime", "VPN"]
    assert 'field-idle">7\xa0minutes<' in page
    assert 'field-uptime">3\xa0hours, 2\xa0minutes<' in page
    assert "VPN · P2P 5914" in page


def test_list_colours_filters_search_and_read_only_fields(admin_client):
    Engine.objects.create(container_id="a" * 64, container_name="ace-red", host="127.0.0.1",
                          host_http_port=19001, state=State.RUNNING, health_status=Health.UNHEALTHY,
                          last_health_error="connection refused", labels={"team": "<b>night</b>"})
    Engine.objects.create(container_id="b" * 64, container_name="ace-green", host="127.0.0.1",
                          host_http_port=19002, state=State.RUNNING, health_status=Health.HEALTHY)
    page = admin_client.get(CHANGELIST).content.decode()
    assert re.search(r'color:#d1372e;font-weight:600" title="connection refused">&#9679; unhealthy', page)
    assert "127.0.0.1:19001" in page
    assert "Stop and remove selected engines" in page

    def listed(query: str) -> set[str]:
        page = admin_client.get(CHANGELIST + query).content.decode()
        return {name for name in ("ace-red", "ace-green") if f">{name}</a>" in page}

    assert listed("?health_status__exact=healthy") == {"ace-green"}
    assert listed("?q=night") == {"ace-red"}  # labels are searchable
    assert listed("?q=" + "b" * 64) == {"ace-green"}  # and container ids

    engine = Engine.objects.get(container_name="ace-red")
    form = admin_client.get(f"{CHANGELIST}{engine.pk}/change/").content.decode()
    assert 'name="host"' in form
    for docker_field in ("container_id", "container_name", "host_http_port", "labels", "state",
                         "health_status"):
        assert f'name="{docker_field}"' not in form
    assert "&lt;b&gt;night&lt;/b&gt;" in form
