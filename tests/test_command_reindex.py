import pytest

from engines.models import Engine
from tests.support.commands import command_output

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]


def test_reindex_adopts_unknown_containers_and_forgets_vanished_ones(api, fleet):
    kept = api.post("/provision/acestream", {}).json()
    vanished = api.post("/provision/acestream", {}).json()
    # The database loses one record (as after restoring an old backup) and Docker loses another.
    Engine.objects.filter(container_id=kept["container_id"]).delete()
    fleet.containers.get(vanished["container_id"]).remove(force=True)

    lines = command_output("reindex").splitlines()
    assert lines[0] == "adopted: 1, forgotten: 1, removed dead: 0"
    assert lines[1] == "engines known: 1 managed, 0 external"
    adopted = Engine.objects.get()
    assert (adopted.container_id, adopted.host_http_port) == (kept["container_id"],
                                                              kept["host_http_port"])
