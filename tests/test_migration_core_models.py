"""Counter, JobRun and Lease moved from the site package to core without a data migration: a
database migrated before the move keeps its rows, read through the models' new home."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from core.models import Counter, Lease

pytestmark = pytest.mark.django_db(transaction=True)

def test_rows_written_before_the_move_are_read_after_it():
    executor = MigrationExecutor(connection)
    executor.migrate([("core", None), ("orchestrator_site", "0001_initial")])
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO orchestrator_site_counter (name, labels, value) "
                       "VALUES ('orch_events_started_total', '', 41)")
        cursor.execute("INSERT INTO orchestrator_site_lease (name, holder, expires_at) "
                       "VALUES ('reconcile', 'host:1', '2030-01-01 00:00:00')")
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    Counter.add("orch_events_started_total")
    assert Counter.read("orch_events_started_total") == {"": 42}
    assert Lease.objects.get(name="reconcile").holder == "host:1"
