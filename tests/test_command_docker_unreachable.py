import os
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from engines import docker_gateway
from engines.models import Engine
from tests.support.commands import command_output
from tests.support.live import MANAGE, ROOT

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]

DEAD_SOCKET = "unix:///tmp/nope.sock"


@pytest.fixture
def cut_docker(monkeypatch):
    """Point the gateway at a socket nobody listens on; the real client comes back afterwards."""

    def cut():
        monkeypatch.setenv("DOCKER_HOST", DEAD_SOCKET)
        monkeypatch.setattr(docker_gateway, "_client", None)

    return cut


@pytest.mark.parametrize("command", [
    ["provision", "--count", "2"],
    ["deleteengine", "ENGINE"],
    ["reindex"],
    ["cleanup"],
])
def test_commands_fail_with_one_line_and_change_nothing(api, fleet, orch, cut_docker, command):
    engine = api.post("/provision/acestream", {}).json()
    orch(IDLE_TTL_S=0, MIN_REPLICAS=0)  # gc would remove the engine if it could
    before = list(Engine.objects.values_list("container_id", "container_name", "state"))
    cut_docker()
    args = [engine["container_name"] if arg == "ENGINE" else arg for arg in command]
    with pytest.raises(CommandError) as failure:
        call_command(*args, stdout=StringIO())
    message = str(failure.value)
    assert message.startswith("Docker unavailable") and "\n" not in message
    assert list(Engine.objects.values_list("container_id", "container_name", "state")) == before
    assert fleet.containers.get(engine["container_id"]).status == "running"


def test_engines_still_lists_from_the_database(api, fleet, cut_docker):
    engine = api.post("/provision/acestream", {}).json()
    cut_docker()
    assert engine["container_name"] in command_output("engines")


def test_the_shell_sees_a_non_zero_exit_and_one_line():
    result = subprocess.run(
        [sys.executable, MANAGE, "reindex"], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "DOCKER_HOST": DEAD_SOCKET},
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "CommandError: Docker unavailable: the daemon does not answer (check DOCKER_HOST or the "
        "mounted /var/run/docker.sock)"]


def test_bad_input_in_the_shell_exits_non_zero_with_the_reason():
    result = subprocess.run([sys.executable, MANAGE, "provision", "--count", "0"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip() == "CommandError: --count must be at least 1, got 0"
