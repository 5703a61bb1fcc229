# The models moved here from orchestrator_site (its 0002 forgets them); their tables stay as they
# are, so this only tells Django's state where they live now.

from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("orchestrator_site", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="JobRun",
                    fields=[
                        ("name", models.CharField(max_length=64, primary_key=True, serialize=False)),
                        ("last_started", models.DateTimeField(null=True)),
                        ("last_success", models.DateTimeField(null=True)),
                        ("last_duration_s", models.FloatField(null=True)),
                        ("last_error", models.TextField(blank=True, default="")),
                    ],
                    options={"db_table": "orchestrator_site_jobrun"},
                ),
                migrations.CreateModel(
                    name="Lease",
                    fields=[
                        ("name", models.CharField(max_length=64, primary_key=True, serialize=False)),
                        ("holder", models.CharField(max_length=128)),
                        ("expires_at", models.DateTimeField()),
                    ],
                    options={"db_table": "orchestrator_site_lease"},
                ),
                migrations.CreateModel(
                    name="Counter",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True,
                                                   serialize=False, verbose_name="ID")),
                        ("name", models.CharField(max_length=100)),
                        ("labels", models.CharField(blank=True, default="", max_length=200)),
                        ("value", models.FloatField(default=0)),
                    ],
                    options={
                        "db_table": "orchestrator_site_counter",
                        "constraints": [models.UniqueConstraint(fields=("name", "labels"),
                                                                name="counter_name_labels")],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
