"""Engines in the admin: coloured health, filters and search; provision, stop-and-remove and check
health act on real containers through the same services as the API; Docker's fields are read-only."""

import re

import pytest

from engines import health
from engines.models import Engine, Health, State

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]

CHANGELIST = "/admin/engines/engine/"


def provision_from_admin(admin_client) -> Engine:
    response = admin_client.post(f"{CHANGELIST}provision/", follow=True)
    assert response.status_code == 200
    assert "Provisioned" in response.content.decode(), response.content.decode()[-2000:]
    return Engine.objects.get()


def test_provision_button_starts_an_engine(admin_client, fleet):
    page = admin_client.get(CHANGELIST).content.decode()
    assert 'action="/admin/engines/engine/provision/"' in page
    assert "/static/panel/admin-live.js" in page  # the list follows the fleet socket
    engine = provision_from_admin(admin_client)
    assert fleet.containers.get(engine.container_id).status == "running"
    assert admin_client.get(f"{CHANGELIST}provision/").status_code == 405
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403  # new engines come from Docker


def test_check_health_now_and_stop_and_remove(admin_client, fleet):
    engine = provision_from_admin(admin_client)
    assert health.poll_get_status(engine.host, engine.port, 10) == ""
    response = admin_client.post(CHANGELIST, {"action": "check_health_now",
                                              "_selected_action": [engine.pk]}, follow=True)
    assert f"Healthy: {engine.container_name}." in response.content.decode()
    engine.refresh_from_db()
    assert engine.health_status == Health.HEALTHY and engine.last_health_check is not None

    selected = {"action": "delete_selected", "_selected_action": [engine.pk]}
    confirm = admin_client.post(CHANGELIST, selected)
    assert "Are you sure" in confirm.content.decode()
    admin_client.post(CHANGELIST, {**selected, "post": "yes"})
    assert not Engine.objects.exists()
    assert not fleet.containers.list(all=True, filters={"id": engine.container_id})


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
