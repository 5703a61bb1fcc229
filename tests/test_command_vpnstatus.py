import pytest

from tests.support.commands import command_output

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]
pytest_plugins = ["tests.support.gluetun"]


def vpnstatus() -> dict[str, str]:
    return dict(line.split("  ", 1) if "  " in line else (line, "")
                for line in command_output("vpnstatus").splitlines())


def fields(output: dict[str, str]) -> dict[str, str]:
    return {key.strip(): value.strip() for key, value in output.items()}


def test_disabled_vpn_says_so(db):
    assert vpnstatus() == {"VPN disabled (GLUETUN_CONTAINER_NAME is not set)": ""}


def test_checks_gluetun_now_and_prints_its_state(api, gluetun):
    state = fields(vpnstatus())
    assert state["container"] == f"{gluetun.name} (running)"
    assert state["health"] == "healthy"
    assert state["vpn status"] == "running"
    assert state["public ip"] == "203.0.113.7"
    assert state["forwarded port"] == "5914"
    assert state["last check"] in ("0s ago", "1s ago")  # checked by the command itself
    assert state["control server"] == gluetun.url

    engine = api.post("/provision/acestream", {}).json()
    state = fields(vpnstatus())
    assert state["engines behind it"] == "1"
    assert state["forwarded port"] == f"5914 (held by {engine['container_name']})"


def test_a_refused_api_key_is_shown(gluetun):
    gluetun.set(api_key="not-ours")
    state = fields(vpnstatus())
    assert state["health"] == "unhealthy (the control server refused our API key)"
