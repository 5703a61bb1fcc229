"""compose.yml is valid for Docker Compose and runs what this repository really has: commands
that exist, the settings' names and defaults, one image and one data volume for all services."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import get_commands

from core.config import Config
from tests.support.config import config_from

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "compose.yml"
ORCHESTRATOR_SERVICES = ("init", "web", "worker")
_DEFAULTED = re.compile(r"\$\{(\w+):-([^}]*)\}")


def compose_cli() -> list[str] | None:
    """`docker compose` (v2 plugin) if present, else the standalone `docker-compose`."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def config(*profiles: str, quiet: bool = False,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    cli = compose_cli()
    if cli is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    clean = {key: value for key, value in os.environ.items()
             if key not in Config.model_fields and not key.startswith("DOCKER_")}
    options = [option for profile in profiles for option in ("--profile", profile)]
    return subprocess.run([*cli, "-f", str(COMPOSE_FILE), *options, "config",
                           *(["-q"] if quiet else [])],
                          capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env={**clean, **(env or {})})


def defaults(value: str) -> str:
    """A compose value with every `${NAME:-default}` replaced by its default."""
    return _DEFAULTED.sub(lambda match: match.group(2), value)


@pytest.fixture(scope="module")
def compose() -> dict:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load(COMPOSE_FILE.read_text())


def test_compose_validates_with_every_profile():
    for profiles in ([], ["vpn"], ["redis"], ["vpn", "redis"]):
        result = config(*profiles, quiet=True)
        assert result.returncode == 0, result.stderr


def test_profile_variables_reach_the_orchestrator():
    yaml = pytest.importorskip("yaml")
    result = config("vpn", "redis", env={"GLUETUN_CONTAINER_NAME": "gluetun", "REDIS_URL": "redis://redis:6379/0",
                         "GLUETUN_API_KEY": "k3y"})
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    for name in ORCHESTRATOR_SERVICES:
        env = services[name]["environment"]
        assert env["GLUETUN_CONTAINER_NAME"] == "gluetun"
        assert env["REDIS_URL"] == "redis://redis:6379/0"
    assert services["gluetun"]["container_name"] == "gluetun"
    assert '"apikey":"k3y"' in services["gluetun"]["environment"][
        "HTTP_CONTROL_SERVER_AUTH_DEFAULT_ROLE"]


def test_services_share_one_image_the_data_volume_and_the_docker_socket(compose):
    services = compose["services"]
    assert {"web", "worker", "gluetun", "redis"} <= set(services)
    images = {services[name]["image"] for name in ORCHESTRATOR_SERVICES}
    assert len(images) == 1
    for name in ORCHESTRATOR_SERVICES:
        service = services[name]
        assert service["build"] == "."
        assert "data:/data" in service["volumes"]
        assert "/var/run/docker.sock:/var/run/docker.sock" in service["volumes"]
        assert service["environment"]["DATA_DIR"] == "/data"
        assert "profiles" not in service
    assert "data" in compose["volumes"]
    assert services["gluetun"]["profiles"] == ["vpn"]
    assert services["redis"]["profiles"] == ["redis"]
    assert services["redis"]["image"].startswith("redis:7")


def test_every_command_run_is_one_this_repository_has(compose):
    known = set(get_commands())
    services = compose["services"]
    run = [services[name]["command"] for name in ORCHESTRATOR_SERVICES]
    run.append(re.findall(r"manage\.py (\w+)", " ".join(services["init"]["command"])))
    for command in run:
        words = command if isinstance(command, list) else command.split()
        for word, following in zip(words, words[1:], strict=False):
            if word == "manage.py":
                assert following in known, following
    assert set(run[-1]) == {"migrate", "setupfleet"}
    web = services["web"]["command"]
    assert web[:3] == ["python", "-m", "daphne"] and web[-1] == "orchestrator_site.asgi:application"


def test_defaults_are_valid_settings_and_match_the_spec(compose):
    env = {key: defaults(str(value)) for key, value in
           compose["services"]["web"]["environment"].items()}
    assert set(env) <= set(Config.model_fields)
    config = config_from(env)  # every default parses
    assert config.TARGET_IMAGE == Config.model_fields["TARGET_IMAGE"].default
    assert str(config.PORT_RANGE_HOST) == "19000-19999"
    gluetun = compose["services"]["gluetun"]
    assert [defaults(port) for port in gluetun["ports"]] == ["19000-19999:19000-19999"]
    assert gluetun["environment"]["HTTP_CONTROL_SERVER_ADDRESS"] == ":8000"
    assert defaults(gluetun["container_name"]) == "gluetun"
