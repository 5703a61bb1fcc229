import json

import pytest

from engines.models import Engine
from tests.support.commands import command_output

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def engines_output(*args) -> str:
    return command_output("engines", *args)


def test_table_lists_each_engine_with_health_ports_and_streams(api, fleet):
    assert engines_output().strip() == "no engines"
    first = api.post("/provision/acestream", {"wait_ready": True}).json()
    second = api.post("/provision/acestream", {}).json()
    Engine.objects.create(container_id="ext-1", container_name="proxy-side-engine",
                          host="10.0.0.9", host_http_port=6878, managed=False, state="running")
    lines = engines_output().strip().splitlines()
    assert lines[0].split() == ["NAME", "ID", "STATE", "HEALTH", "PORTS", "STREAMS", "LAST",
                                "USED", "KIND"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows[first["container_name"]][1:6] == [
        first["container_id"][:12], "running", "healthy", str(first["host_http_port"]), "0"]
    assert rows[first["container_name"]][6:] == ["never", "managed"]
    assert rows[second["container_name"]][4] == str(second["host_http_port"])
    assert rows["proxy-side-engine"][-1] == "external"


def test_json_is_what_the_api_answers(api, fleet):
    api.post("/provision/acestream", {})
    api.post("/provision/acestream", {})
    from_command = json.loads(engines_output("--json"))
    from_api = api.get("/engines").json()
    for engine in (*from_command, *from_api):
        assert engine.pop("idle_seconds") >= 0  # the clock moved between the two reads
    assert len(from_command) == 2 and from_command == from_api
