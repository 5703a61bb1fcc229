"""Markup in labels, stream keys and end reasons stays inert text in the panel and the admin, and
admin forms refuse a POST without the CSRF token."""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from engines.models import Engine, State
from streams.models import Stream

pytestmark = pytest.mark.django_db

MARKUP = "<img src=x onerror=alert(1)>"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


@pytest.fixture
def hostile_fleet():
    engine = Engine.objects.create(
        container_id="c" * 64, container_name="ace-x", host="127.0.0.1", host_http_port=19001,
        container_http_port=19001, state=State.RUNNING, labels={"note": MARKUP},
        last_health_error=MARKUP)
    Stream.objects.create(id=f"{MARKUP}|s1", key_type="content_id", key=MARKUP, engine=engine,
                          container_id=engine.container_id, labels={"stream_id": MARKUP})
    Stream.objects.create(id="ended|s2", key_type="content_id", key="k", engine=engine,
                          container_id=engine.container_id, status="ended",
                          ended_at=timezone.now(), ended_reason=MARKUP)
    return engine


@pytest.fixture
def staff(admin_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    return client


@pytest.mark.parametrize("url", [
    "/panel",
    "/panel/state.json",
    reverse("admin:engines_engine_changelist"),
    reverse("admin:streams_stream_changelist"),
    reverse("admin:streams_stream_changelist") + "?status__exact=ended",
])
def test_markup_is_never_served_raw(staff, hostile_fleet, url):
    response = staff.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    if url.endswith(".json"):
        # JSON carries it as data that the panel script writes with textContent; the browser
        # is told never to sniff it as HTML.
        assert response["Content-Type"].startswith("application/json")
        assert response["X-Content-Type-Options"] == "nosniff"
    else:
        assert MARKUP not in page
        assert ESCAPED in page


def test_change_pages_escape_markup(staff, hostile_fleet):
    for url in (reverse("admin:engines_engine_change", args=[hostile_fleet.pk]),
                reverse("admin:streams_stream_change", args=[f"{MARKUP}|s1"])):
        response = staff.get(url)
        assert response.status_code == 200, url
        assert MARKUP not in response.content.decode()


def test_admin_actions_refuse_a_post_without_csrf_token(staff, hostile_fleet):
    response = staff.post(reverse("admin:engines_engine_changelist"), {
        "action": "delete_selected", "_selected_action": [hostile_fleet.pk]})
    assert response.status_code == 403
    assert Engine.objects.filter(pk=hostile_fleet.pk).exists()
