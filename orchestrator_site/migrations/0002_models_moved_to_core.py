# Counter, JobRun and Lease now belong to the core app (core.0001); their tables stay.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("orchestrator_site", "0001_initial"),
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="Counter"),
                migrations.DeleteModel(name="JobRun"),
                migrations.DeleteModel(name="Lease"),
            ],
            database_operations=[],
        ),
    ]
