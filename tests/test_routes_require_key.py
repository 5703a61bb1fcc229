import re

import pytest

from orchestrator_site.api import api as ninja_api
from tests.conftest import API_KEY, ApiClient

pytestmark = pytest.mark.django_db

OPEN_PATHS = {"/metrics", "/health", "/orchestrator/status"}


def _operations():
    schema = ninja_api.get_openapi_schema()
    for path, methods in schema["paths"].items():
        for method in methods:
            if path not in OPEN_PATHS:
                yield method, re.sub(r"\{[^}]+\}", "x", path)


OPERATIONS = sorted(set(_operations()))


def test_the_schema_lists_the_proxy_routes():
    paths = {path for _, path in OPERATIONS}
    for expected in ("/provision/acestream", "/provision", "/engines", "/engines/x",
                     "/containers/x", "/by-label", "/scale/x", "/gc", "/events/stream_started",
                     "/events/stream_ended", "/streams", "/streams/x/stats", "/vpn/status"):
        assert expected in paths


@pytest.mark.parametrize("method, path", OPERATIONS)
def test_every_route_refuses_a_request_without_the_key(method, path):
    assert path not in OPEN_PATHS
    response = ApiClient(key=None).request(method, path)
    assert response.status_code == 401, (method, path, response.content)
    assert response.json() == {"detail": "missing bearer token"}


@pytest.mark.parametrize("method, path", OPERATIONS)
def test_every_route_refuses_a_wrong_key_of_the_same_length(method, path):
    wrong = API_KEY[:-1] + ("x" if API_KEY[-1] != "x" else "y")
    response = ApiClient(key=wrong).request(method, path)
    assert response.status_code == 403, (method, path, response.content)
    assert response.json() == {"detail": "invalid token"}


@pytest.mark.parametrize("path", sorted(OPEN_PATHS))
def test_metrics_and_health_stay_open(path):
    response = ApiClient(key=None).get(path)
    assert response.status_code in (200, 503)
