from django.apps import AppConfig


class OrchestratorSiteConfig(AppConfig):
    name = "orchestrator_site"
    verbose_name = "Orchestrator"

    def ready(self):
        from core.live_settings import settings_changed

        settings_changed.connect(_rewrite_schedules, dispatch_uid="orchestrator_site.schedules")


def _rewrite_schedules(sender, names, **kwargs):
    """A saved interval (AUTOSCALE_INTERVAL_S, HEALTH_CHECK_INTERVAL_S, ENGINE_GRACE_PERIOD_S)
    is in the worker's schedules at its scheduler's next tick, without a restart: the schedules
    live in the database, so the process that saved the change writes them. A saved replica
    target or image has the worker reconcile now rather than at its next scheduled pass."""
    from .schedules import RECONCILED_SETTINGS, SCHEDULED_SETTINGS, ensure_schedules, reconcile_soon

    if SCHEDULED_SETTINGS & set(names):
        ensure_schedules()
    if RECONCILED_SETTINGS & set(names):
        reconcile_soon()
