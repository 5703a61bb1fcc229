"""PATCH /settings is validated like start-up: every bad field named in one 422, unknown and
read-only names refused, cross-field rules checked on the combination with what is saved and the
environment, and a refused request changes nothing."""

import pytest

from core.config import conf
from core.models import Setting, SettingChange

pytestmark = pytest.mark.django_db


def patch(api, body):
    return api.request("patch", "/settings", body)


def bad_fields(response) -> dict[str, list[str]]:
    assert response.status_code == 422, response.content
    found: dict[str, list[str]] = {}
    for problem in response.json()["detail"]:
        assert problem["loc"][0] == "body"
        found.setdefault(problem["loc"][1], []).append(problem["msg"])
    return found


def nothing_saved(api, before):
    assert not Setting.objects.exists() and not SettingChange.objects.exists()
    assert api.get("/settings").json() == before


def test_every_bad_field_is_named_and_nothing_changes(api, orch):
    orch(MIN_REPLICAS=0, MAX_REPLICAS=10)
    before = api.get("/settings").json()
    response = patch(api, {"min_replicas": "lots", "auto_delete": "maybe", "collect_spread": 0.95,
                           "health_check_timeout_s": -1, "target_image": "not an image!",
                           "engine_grace_period_s": 60, "no_such_setting": 1,
                           "database_url": "sqlite:////tmp/x"})
    fields = bad_fields(response)
    assert set(fields) == {"min_replicas", "auto_delete", "collect_spread", "health_check_timeout_s",
                           "target_image", "no_such_setting", "database_url"}
    assert fields["no_such_setting"] == ["unknown setting"]
    assert "restart" in fields["database_url"][0]
    assert "'lots'" in fields["min_replicas"][0]
    # The good field of the refused request was not saved either.
    nothing_saved(api, before)
    assert conf().ENGINE_GRACE_PERIOD_S == 30


def test_min_above_max_is_refused_on_the_combination(api, orch):
    orch(MIN_REPLICAS=0, MAX_REPLICAS=10)
    before = api.get("/settings").json()
    # Against the environment's maximum...
    fields = bad_fields(patch(api, {"min_replicas": 11}))
    assert set(fields) == {"min_replicas", "max_replicas"}
    assert "min_replicas=11 is above max_replicas=10" in fields["min_replicas"][0]
    nothing_saved(api, before)
    # ...and against a saved one: each value alone is fine, together they are not.
    assert patch(api, {"max_replicas": 4}).status_code == 200
    assert set(bad_fields(patch(api, {"min_replicas": 5}))) == {"min_replicas", "max_replicas"}
    assert conf().MIN_REPLICAS == 0 and conf().MAX_REPLICAS == 4
    # Both at once are judged together.
    assert patch(api, {"min_replicas": 6, "max_replicas": 8}).status_code == 200
    assert (conf().MIN_REPLICAS, conf().MAX_REPLICAS) == (6, 8)


@pytest.mark.parametrize("body", ["[1, 2]", '"min_replicas=2"', "{not json", "3"])
def test_a_body_that_is_no_object_is_refused(api, body):
    before = api.get("/settings").json()
    response = patch(api, body)
    assert response.status_code == 422
    assert "JSON object" in str(response.json()["detail"])
    nothing_saved(api, before)


def test_values_are_read_as_start_up_reads_them(api, orch):
    orch(MIN_REPLICAS=0)
    response = patch(api, {"min_replicas": "2", "auto_delete": "off", "collect_timeout_s": 1,
                           "provision_allowed_images": "a/b:1, c/d:2"})
    assert response.status_code == 200, response.content
    saved = dict(Setting.objects.values_list("name", "value"))
    assert saved == {"MIN_REPLICAS": 2, "AUTO_DELETE": False, "COLLECT_TIMEOUT_S": 1.0,
                     "PROVISION_ALLOWED_IMAGES": ["a/b:1", "c/d:2"]}
    cfg = conf()
    assert cfg.MIN_REPLICAS == 2 and cfg.AUTO_DELETE is False
    assert cfg.allowed_images == ("a/b:1", "c/d:2")


def test_the_key_is_required(db):
    from tests.conftest import ApiClient

    anonymous = ApiClient(key=None)
    assert anonymous.get("/settings").status_code == 401
    assert anonymous.request("patch", "/settings", {"min_replicas": 1}).status_code == 401
    assert ApiClient(key="wrong").get("/settings/export").status_code == 403
    assert not Setting.objects.exists()
