import httpx
import pytest

from tests.support.commands import command_output

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def test_checkhealth_probes_every_engine_now_and_prints_each_result(api, fleet):
    good = api.post("/provision/acestream", {"wait_ready": True}).json()
    bad = api.post("/provision/acestream", {"wait_ready": True}).json()
    httpx.get(f"http://127.0.0.1:{bad['host_http_port']}/sim/fault", params={"mode": "fail"},
              timeout=5)

    lines = command_output("checkhealth").splitlines()
    assert lines[0].split() == ["NAME", "PORT", "HEALTH", "CHECKED", "FAILURES", "ERROR"]
    rows = {line.split()[0]: line for line in lines[1:-1]}
    assert rows[good["container_name"]].split()[1:4] == [str(good["host_http_port"]), "healthy", "0s"]
    assert rows[bad["container_name"]].split()[1:3] == [str(bad["host_http_port"]), "unhealthy"]
    assert rows[bad["container_name"]].endswith("get_status answered HTTP 500")
    assert lines[-1].startswith("checked in ") and lines[-1].endswith(": 1 healthy, 1 unhealthy")
    states = {engine["container_name"]: engine["health_status"] for engine in api.get("/engines").json()}
    assert states == {good["container_name"]: "healthy", bad["container_name"]: "unhealthy"}


def test_checkhealth_without_engines(db):
    assert command_output("checkhealth").strip() == "no engines"
