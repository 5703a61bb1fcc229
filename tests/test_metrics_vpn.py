import pytest
from prometheus_client.parser import text_string_to_metric_families

from vpn.monitor import check_vpn

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]
pytest_plugins = ["tests.support.gluetun"]


def scrape(api) -> dict[tuple[str, tuple], float]:
    text = api.get("/metrics").content.decode()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_without_vpn_only_the_switch_is_exported(api):
    samples = scrape(api)
    assert samples[("orch_vpn_enabled", ())] == 0
    assert not [name for name, _ in samples if name.startswith("orch_vpn_") and
                name != "orch_vpn_enabled"]


def test_vpn_state_port_and_engines_behind_it(api, gluetun):
    check_vpn()
    holder = api.post("/provision/acestream", {}).json()
    api.post("/provision/acestream", {})
    samples = scrape(api)
    assert samples[("orch_vpn_enabled", ())] == 1
    assert samples[("orch_vpn_up", ())] == 1
    assert samples[("orch_vpn_forwarded_port", ())] == 5914
    assert samples[("orch_vpn_engines", (("forwarded", "true"),))] == 1
    assert samples[("orch_vpn_engines", (("forwarded", "false"),))] == 1
    forwarded = [e for e in api.get("/engines").json() if e["forwarded"]]
    assert [e["container_name"] for e in forwarded] == [holder["container_name"]]

    gluetun.set(status="stopped")
    check_vpn()
    samples = scrape(api)
    assert samples[("orch_vpn_up", ())] == 0
    assert samples[("orch_vpn_engines", (("forwarded", "false"),))] == 1  # they stay meanwhile
