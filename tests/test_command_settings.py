"""`manage.py settings`: show, set NAME=VALUE (validated as PATCH is: one line naming every bad
field, exit status 1, nothing saved), export, import FILE, reset NAME."""

import json
import subprocess
import sys

import pytest
from django.core.management import CommandError

from core.config import conf
from core.models import Setting, SettingChange
from orchestrator_site.processes import MANAGE
from tests.support.commands import command_output

pytestmark = pytest.mark.django_db


def rows() -> dict[str, list[str]]:
    lines = command_output("settings", "show").splitlines()
    assert lines[0].split() == ["NAME", "VALUE", "SOURCE", "ENVIRONMENT", "TOPIC", "LIVE"]
    return {line.split()[0]: line.split() for line in lines[1:]}


def test_show_lists_every_setting_with_its_source(orch):
    orch(MIN_REPLICAS=0, METRICS_TOKEN="hidden-token")
    table = rows()
    assert table["min_replicas"] == ["min_replicas", "0", "environment", "0", "engines", "live"]
    assert table["collect_spread"][1:3] == ["0.5", "default"]
    assert table["metrics_token"][1] == "********" and table["metrics_token"][-1] == "restart"
    assert "hidden-token" not in command_output("settings", "show")
    live_only = command_output("settings", "show", "--live")
    assert "min_replicas" in live_only and "database_url" not in live_only


def test_set_saves_and_reports_old_and_new(orch):
    orch(MIN_REPLICAS=0)
    out = command_output("settings", "set", "min_replicas=2", "AUTO_DELETE=off")
    assert out.splitlines() == ["min_replicas: 0 -> 2", "auto_delete: true -> false"]
    assert conf().MIN_REPLICAS == 2 and conf().AUTO_DELETE is False
    assert set(SettingChange.objects.values_list("source", flat=True)) == {"command"}
    assert rows()["min_replicas"][1:3] == ["2", "saved"]
    assert command_output("settings", "set", "min_replicas=2").strip() == "nothing changed"


@pytest.mark.parametrize("args, named", [
    (["min_replicas=lots", "collect_spread=5"], ["min_replicas:", "collect_spread:"]),
    (["min_replicas=70"], ["min_replicas: min_replicas=70 is above max_replicas=60"]),
    (["no_such=1"], ["no_such: unknown setting"]),
    (["data_dir=/tmp"], ["data_dir: cannot change while running"]),
    (["min_replicas"], ["use NAME=VALUE"]),
])
def test_bad_input_is_one_line_and_changes_nothing(args, named):
    with pytest.raises(CommandError) as refused:
        command_output("settings", "set", *args)
    message = str(refused.value)
    assert "\n" not in message
    for words in named:
        assert words in message
    assert not Setting.objects.exists()


def test_export_import_and_reset(tmp_path, orch):
    orch(MIN_REPLICAS=0)
    command_output("settings", "set", "min_replicas=1", "proxy_stall_s=2.5")
    exported = json.loads(command_output("settings", "export"))
    assert exported == {"min_replicas": 1, "proxy_stall_s": 2.5}
    assert command_output("settings", "reset", "min_replicas") == \
        "min_replicas: 1 -> the environment's 0\n"
    assert conf().MIN_REPLICAS == 0 and conf().PROXY_STALL_S == 2.5
    file = tmp_path / "settings.json"
    file.write_text(json.dumps({"min_replicas": 3}))
    command_output("settings", "import", str(file))
    assert conf().MIN_REPLICAS == 3 and conf().PROXY_STALL_S == 6.0  # exactly the file's
    assert SettingChange.objects.filter(source="import").count() == 2
    file.write_text("{broken")
    with pytest.raises(CommandError, match="is not JSON"):
        command_output("settings", "import", str(file))
    with pytest.raises(CommandError, match="cannot read"):
        command_output("settings", "import", str(tmp_path / "missing.json"))


def test_exit_status_is_1_with_one_line_on_stderr(tmp_path):
    from tests.support.live import Orchestrator

    orchestrator = Orchestrator(processes=())
    orchestrator.prepare()
    result = subprocess.run([sys.executable, MANAGE, "settings", "set", "max_replicas=0"],
                            env=orchestrator.env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "CommandError: max_replicas: Input should be greater than or equal to 1 (got '0')"]
