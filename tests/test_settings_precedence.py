"""Which value is in force: the environment's first, a saved one over it (in this process at once,
in every other within about a second, and in a new process after a restart), the environment's
again after a reset; GET /settings says where each value comes from."""

import json

import pytest
from django.conf import settings

from core import config
from core.config import conf
from core.models import Setting

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.support.clock"]


def patch(api, body):
    return api.request("patch", "/settings", body)


def entry(api, name: str) -> dict:
    return next(item for item in api.get("/settings").json() if item["name"] == name)


def test_environment_first_then_saved_then_environment_again(api, orch):
    orch(MIN_REPLICAS=1, ENGINE_GRACE_PERIOD_S=45)
    assert entry(api, "min_replicas") == {
        "name": "min_replicas", "value": 1, "environment": 1, "source": "environment",
        "live": True, "topic": "engines", "help": "Engines kept running, warm, even with no stream",
        "saved_by": None, "saved_at": None, "not_applied": None}
    assert entry(api, "collect_spread")["source"] == "default"  # not set in the environment

    assert patch(api, {"min_replicas": 2}).status_code == 200
    assert conf().MIN_REPLICAS == 2  # at once in the process that saved it
    saved = entry(api, "min_replicas")
    assert (saved["value"], saved["environment"], saved["source"]) == (2, 1, "saved")
    assert saved["saved_by"] == "api key" and saved["saved_at"]

    # The environment layer is still what start-up read; tests swap it and conf() follows at once.
    assert settings.ORCH.MIN_REPLICAS == 1
    orch(ENGINE_GRACE_PERIOD_S=50)
    assert conf().ENGINE_GRACE_PERIOD_S == 50 and conf().MIN_REPLICAS == 2

    assert api.delete("/settings/min_replicas").status_code == 200
    assert conf().MIN_REPLICAS == 1 and entry(api, "min_replicas")["source"] == "environment"
    assert not Setting.objects.exists()


def test_null_resets_and_the_environment_value_clears_the_saved_one(api, orch):
    orch(MIN_REPLICAS=1)
    patch(api, {"min_replicas": 3, "auto_delete": False})
    assert patch(api, {"min_replicas": None}).status_code == 200
    assert conf().MIN_REPLICAS == 1 and conf().AUTO_DELETE is False
    # Saving the environment's own value does not pin it: the setting follows the environment.
    patch(api, {"auto_delete": True})
    assert not Setting.objects.exists()
    assert entry(api, "auto_delete")["source"] == "default"


def test_another_process_sees_a_change_once_its_copy_is_refresh_old(
        api, orch, saved_settings_clock):
    """Another process reads the revision once its copy is SAVED_REFRESH_S old: simulated here
    by a change written behind this process's back, on a clock only the test moves."""
    from core.models import SettingsRevision

    clock = saved_settings_clock
    orch(MIN_REPLICAS=0)
    clock.now += config.SAVED_REFRESH_S  # whatever copy there was is old: this look reads
    assert conf().MIN_REPLICAS == 0
    Setting.objects.create(name="MIN_REPLICAS", value=4, saved_at="2026-01-01T00:00:00Z")
    SettingsRevision.objects.update_or_create(pk=1, defaults={"number": 99})

    clock.now += config.SAVED_REFRESH_S * 0.9
    assert conf().MIN_REPLICAS == 0  # its copy, until that is SAVED_REFRESH_S old
    clock.now += config.SAVED_REFRESH_S * 0.2
    assert conf().MIN_REPLICAS == 4


def test_a_saved_value_the_environment_no_longer_allows_is_not_applied(api, orch):
    orch(MIN_REPLICAS=0, MAX_REPLICAS=10)
    patch(api, {"min_replicas": 8})
    orch(MAX_REPLICAS=5)  # as a restart with another environment would
    assert conf().MIN_REPLICAS == 0 and conf().MAX_REPLICAS == 5
    shown = entry(api, "min_replicas")
    assert shown["source"] == "environment" and "min_replicas=8 is above" in shown["not_applied"]


def test_a_restarted_process_keeps_the_saved_value(tmp_path):
    """A new process (here `manage.py settings`, as a restarted web or worker would) reads the
    saved value from the database; its environment still gives the others."""
    from tests.support.live import Orchestrator

    first = Orchestrator(env={"MIN_REPLICAS": "1", "IDLE_TTL_S": "100"}, processes=())
    first.prepare()
    first.manage("settings", "set", "min_replicas=2")
    restarted = Orchestrator(env={"MIN_REPLICAS": "1", "IDLE_TTL_S": "200"},
                             data_dir=first.data_dir, processes=())
    exported = json.loads(restarted.manage("settings", "export").stdout)
    assert exported == {"min_replicas": 2}
    rows = {line.split()[0]: line.split() for line in
            restarted.manage("settings", "show", "--live").stdout.splitlines()[1:]}
    assert rows["min_replicas"][1:4] == ["2", "saved", "1"]
    assert rows["idle_ttl_s"][1:4] == ["200", "environment", "200"]
