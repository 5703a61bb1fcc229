import pytest

from tests.conftest import API_KEY, ApiClient

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer", "Bearer  "])
def test_missing_or_malformed_header_is_401(header):
    client = ApiClient(key=None)
    headers = {"Authorization": header} if header is not None else {}
    response = client.get("/engines", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"detail": "missing bearer token"}


def test_wrong_key_of_the_same_length_is_403():
    wrong = "x" * len(API_KEY)
    response = ApiClient(key=wrong).post("/provision/acestream", {})
    assert response.status_code == 403
    assert response.json() == {"detail": "invalid token"}


def test_right_key_reads_engines():
    assert ApiClient().get("/engines").json() == []


def test_open_api_without_api_key_leaves_everything_open(orch):
    orch(API_KEY=None, OPEN_API=True)
    assert ApiClient(key=None).get("/engines").status_code == 200


def test_without_api_key_a_generated_key_guards_the_api(orch, tmp_path):
    orch(API_KEY=None, DATA_DIR=tmp_path)
    assert ApiClient(key=None).get("/engines").status_code == 401
    generated = (tmp_path / "api-key").read_text().strip()
    assert ApiClient(key=generated).get("/engines").status_code == 200


def test_staff_session_may_read_but_needs_csrf_to_change(django_user_model):
    from django.test import Client

    user = django_user_model.objects.create_user("ops", password="pw-123456789", is_staff=True)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    assert browser.get("/engines").status_code == 200
    response = browser.post("/scale/0", content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_non_staff_session_is_refused(django_user_model):
    from django.test import Client

    user = django_user_model.objects.create_user("viewer", password="pw-123456789")
    browser = Client()
    browser.force_login(user)
    assert browser.get("/engines").status_code == 401
