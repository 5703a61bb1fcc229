import json

import docker
import pytest
from django.conf import settings
from django.test import Client

from core.config import forget_saved
from tests import environment
from tests.support import postgres
from tests.support.containers import remove_orphans
from tests.support.images import engine_sim_image, gluetun_sim_image

API_KEY = environment.TEST_ENV["API_KEY"]


def pytest_collection_modifyitems(items):
    """A test that stops dockerd must say so (marker `alone`): scripts/test.sh runs those apart
    from the suites it runs side by side."""
    for item in items:
        module = getattr(item, "module", None)
        stops_dockerd = any(hasattr(module, name) for name in ("dockerd_control", "dockerd_restarter"))
        if stops_dockerd and item.get_closest_marker("alone") is None:
            raise pytest.UsageError(f"{item.nodeid} stops dockerd without the marker alone")


def _remove_run_containers(client, label: str) -> None:
    # sparse: no inspect per container, which would race with containers removed meanwhile.
    for container in client.containers.list(all=True, sparse=True, filters={"label": label}):
        try:
            container.remove(force=True)
        except docker.errors.APIError:  # already gone, or being removed
            pass


@pytest.fixture(scope="session")
def django_db_modify_db_settings():
    """On PostgreSQL the run's test database is named after the run, so concurrent runs on one
    server never share it (SQLite's lives in the run's own data folder)."""
    if postgres.server_url():
        postgres.drop_orphans()
        settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = postgres.database_name(
            environment.RUN_ID, "test")


@pytest.fixture(scope="session")
def docker_client():
    client = docker.from_env()
    remove_orphans(client, environment.RUN_LABEL_KEY)  # of runs killed or crashed
    yield client
    _remove_fleet(client)


@pytest.fixture(scope="session")
def engine_image(docker_client):
    """The engine simulator image, made the fleet's TARGET_IMAGE for the whole run."""
    tag = engine_sim_image()
    settings.ORCH = settings.ORCH.model_copy(update={"TARGET_IMAGE": tag})
    return tag


@pytest.fixture(scope="session")
def gluetun_image(docker_client):
    return gluetun_sim_image()


def _remove_fleet(client) -> None:
    _remove_run_containers(client, settings.ORCH.CONTAINER_LABEL)
    _remove_run_containers(client, f"orchestrator.generic={settings.ORCH.CONTAINER_LABEL}")


@pytest.fixture
def fleet(docker_client, engine_image):
    """Real Docker with the simulator as engine image; the test starts without containers of the
    run and every container it made is removed after."""
    _remove_fleet(docker_client)
    yield docker_client
    _remove_fleet(docker_client)


@pytest.fixture(scope="module")
def module_fleet(docker_client, engine_image):
    """For an orchestrator kept for a whole module: its containers are removed once it stopped
    (a container it started after a test's cleanup would otherwise outlive the module)."""
    yield docker_client
    _remove_fleet(docker_client)


@pytest.fixture(autouse=True)
def in_process_channel_layer(settings):
    """In-process tests announce changes through the in-memory layer; cross-process delivery
    through the embedded SQLite layer is tested against real processes (tests/support/live.py)."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture(autouse=True)
def fresh_saved_settings():
    """Each test reads the saved settings (core.live_settings) afresh: a test's rows are rolled
    back at its end, and conf()'s copy of them must not outlive it."""
    forget_saved()
    yield
    forget_saved()


@pytest.fixture
def orch(settings):
    """Change settings of the orchestrator for one test: `orch(MIN_REPLICAS=2)`."""

    def override(**changes):
        settings.ORCH = settings.ORCH.model_copy(update=changes)
        return settings.ORCH

    return override


class ApiClient:
    """Django's test client speaking JSON with the Bearer key, as a proxy does."""

    def __init__(self, key: str | None = API_KEY):
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}

    def request(self, method: str, path: str, body=None, **extra):
        kwargs = {"headers": {**self.headers, **extra.pop("headers", {})}, **extra}
        if method != "get":
            # An absent body goes out empty, as from curl -X POST, not as the client's multipart.
            kwargs["data"] = "" if body is None else (
                body if isinstance(body, (str, bytes)) else json.dumps(body))
            kwargs["content_type"] = "application/json"
        return getattr(self.client, method)(path, **kwargs)

    def get(self, path, **extra):
        return self.request("get", path, **extra)

    def post(self, path, body=None, **extra):
        return self.request("post", path, body, **extra)

    def delete(self, path, **extra):
        return self.request("delete", path, **extra)


@pytest.fixture
def api(db):
    return ApiClient()


sqlite_only = pytest.mark.skipif(postgres.server_url() is not None,
                                 reason="about SQLite itself; this run uses PostgreSQL")
postgres_only = pytest.mark.skipif(postgres.server_url() is None,
                                   reason="needs PostgreSQL (TEST_DATABASE_URL); this run uses SQLite")
