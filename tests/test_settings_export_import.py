"""GET /settings/export and POST /settings/import move the saved settings between installs: a
round trip gives the same saved values and the same configuration; an import is validated like a
PATCH, all or nothing, and leaves out nothing it does not carry."""

import pytest

from core.config import conf
from core.models import Setting, SettingChange

pytestmark = pytest.mark.django_db


def saved() -> dict:
    return dict(Setting.objects.values_list("name", "value"))


def test_round_trip(api, orch):
    orch(MIN_REPLICAS=0)
    changes = {"min_replicas": 2, "target_image": "example/engine:2", "auto_delete": False,
               "collect_interval_s": 7, "provision_allowed_images": ["example/engine:2", "x/y:1"],
               "proxy_linger_s": 4}
    assert api.request("patch", "/settings", changes).status_code == 200
    exported = api.get("/settings/export").json()
    assert exported == changes
    before, config_before = saved(), conf()

    # Another install: nothing saved there yet, or other values.
    Setting.objects.all().delete()
    api.request("patch", "/settings", {"stats_history_max": 10})
    response = api.post("/settings/import", exported)
    assert response.status_code == 200, response.content
    assert saved() == before
    assert conf() == config_before and conf().STATS_HISTORY_MAX == 720
    assert {item["name"] for item in response.json() if item["source"] == "saved"} == set(changes)
    assert SettingChange.objects.filter(source="import").count() == len(changes) + 1


def test_a_refused_import_changes_nothing(api, orch):
    orch(MIN_REPLICAS=0, MAX_REPLICAS=10)
    api.request("patch", "/settings", {"idle_ttl_s": 60})
    before = saved()
    response = api.post("/settings/import", {"min_replicas": 20, "idle_ttl_s": 5,
                                             "redis_url": "redis://x", "collect_spread": "lots"})
    assert response.status_code == 422
    named = {problem["loc"][1] for problem in response.json()["detail"]}
    assert named == {"min_replicas", "max_replicas", "redis_url", "collect_spread"}
    assert saved() == before and conf().IDLE_TTL_S == 60
    assert api.post("/settings/import", [1, 2]).status_code in (400, 422)
    assert saved() == before


def test_history_lists_the_changes_newest_first(api, orch):
    orch(MIN_REPLICAS=0)
    api.request("patch", "/settings", {"min_replicas": 1})
    api.request("patch", "/settings", {"min_replicas": 2})
    api.delete("/settings/min_replicas")
    history = api.get("/settings/history").json()
    assert [(h["name"], h["old_value"], h["new_value"], h["reset"]) for h in history] == [
        ("min_replicas", 2, 0, True), ("min_replicas", 1, 2, False), ("min_replicas", 0, 1, False)]
    assert {h["source"] for h in history} == {"api"} and history[0]["who"] == "api key"
    assert api.delete("/settings/no_such_setting").status_code == 404
    assert api.delete("/settings/database_url").status_code == 422
