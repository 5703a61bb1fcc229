import pytest

from engines.models import Engine
from tests.support.commands import command_output

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def cleanup() -> str:
    return command_output("cleanup").strip()


def test_gc_removes_idle_engines_down_to_min_replicas(api, fleet, orch):
    names = [api.post("/provision/acestream", {}).json()["container_name"] for _ in range(3)]
    orch(IDLE_TTL_S=3600, MIN_REPLICAS=1)
    assert cleanup() == "removed 0 idle engine(s)"
    orch(IDLE_TTL_S=0, MIN_REPLICAS=1)
    output = cleanup()
    assert output.startswith("removed 2 idle engine(s): ")
    removed = output.split(": ", 1)[1].split(", ")
    kept = list(Engine.objects.values_list("container_name", flat=True))
    assert len(kept) == 1 and sorted(removed + kept) == sorted(names)
    assert len(fleet.containers.list(all=True, filters={"label": orch().CONTAINER_LABEL})) == 1


def test_gc_says_so_when_auto_delete_is_off(api, fleet, orch):
    api.post("/provision/acestream", {})
    orch(AUTO_DELETE=False, IDLE_TTL_S=0, MIN_REPLICAS=0)
    assert cleanup() == "AUTO_DELETE is off: nothing is removed"
    assert Engine.objects.count() == 1
