"""The panel's staff actions on a real engine: check now stores a fresh health result, delete
removes the container; both need the session's CSRF token and answer in JSON."""

import re

import pytest
from django.test import Client

from engines import health
from engines.models import Engine, Health

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def staff(django_user_model):
    client = Client(enforce_csrf_checks=True)
    client.force_login(django_user_model.objects.create_user("ops", password="pw", is_staff=True))
    page = client.get("/panel").content.decode()
    client.csrf = re.search(r'data-csrf="([^"]+)"', page).group(1)
    return client


def provisioned(api) -> Engine:
    response = api.post("/provision/acestream", {})
    assert response.status_code == 200, response.content
    engine = Engine.objects.get(container_id=response.json()["container_id"])
    assert health.poll_get_status(engine.host, engine.port, 10) == ""
    return engine


def test_check_now_and_delete(staff, api, fleet):
    engine = provisioned(api)
    check = f"/panel/engines/{engine.pk}/check"

    refused = staff.post(check)
    assert refused.status_code == 403
    assert refused.json() == {"detail": "CSRF check failed: reload the page"}

    answer = staff.post(check, HTTP_X_CSRFTOKEN=staff.csrf)
    assert answer.status_code == 200
    assert answer.json() == {"engine": engine.container_name, "health": "healthy", "reason": ""}
    engine.refresh_from_db()
    assert engine.health_status == Health.HEALTHY and engine.last_health_check

    fleet.containers.get(engine.container_id).stop(timeout=1)
    answer = staff.post(check, HTTP_X_CSRFTOKEN=staff.csrf).json()
    assert answer["health"] == "unhealthy" and answer["reason"] == "connection refused"

    deleted = staff.post(f"/panel/engines/{engine.pk}/delete", HTTP_X_CSRFTOKEN=staff.csrf)
    assert deleted.json() == {"deleted": engine.container_name}
    assert not fleet.containers.list(all=True, filters={"id": engine.container_id})
    assert not Engine.objects.exists()


def test_unknown_engine_and_wrong_method_are_clear(staff):
    missing = staff.post("/panel/engines/999/delete", HTTP_X_CSRFTOKEN=staff.csrf)
    assert missing.status_code == 404
    assert missing.json() == {"detail": "no engine 999"}
    wrong_method = staff.get("/panel/engines/999/check")
    assert wrong_method.status_code == 405 and wrong_method.json() == {"detail": "use POST"}
    anonymous = Client().post("/panel/engines/1/delete")
    assert anonymous.status_code == 401 and anonymous.json() == {"detail": "log in first"}
