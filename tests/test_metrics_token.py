import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_metrics_are_open_without_a_token_even_when_the_api_has_a_key():
    response = Client().get("/metrics")
    assert response.status_code == 200
    assert b"orch_streams_active " in response.content


def test_metrics_token_protects_the_scrape(orch):
    orch(METRICS_TOKEN="scrape-secret")
    client = Client()
    missing = client.get("/metrics")
    assert missing.status_code == 401
    assert missing.json() == {"detail": "missing bearer token"}
    assert missing["WWW-Authenticate"] == "Bearer"
    assert client.get("/metrics", headers={"Authorization": "Basic c2NyYXBl"}).status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer not-it"})
    assert (wrong.status_code, wrong.json()) == (403, {"detail": "invalid token"})
    api_key = client.get("/metrics", headers={"Authorization": f"Bearer {orch().API_KEY}"})
    assert api_key.status_code == 403  # the API key is not the metrics token
    right = client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
    assert right.status_code == 200
    assert b"orch_provision_total" in right.content
