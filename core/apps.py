from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The ground floor: configuration, errors, the models every app shares (counters, job runs,
    leases), announcing changes, request slots, rendering and auth. It imports no app."""

    name = "core"
    verbose_name = "Orchestrator"
