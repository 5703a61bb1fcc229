"""The django-q2 schedules of the worker, written idempotently at every start.

These are the jobs of 30 s and more; the 5 s loops and the Docker events stream run as loops of
the same worker process (see orchestrator_site/loops.py).
"""

from datetime import datetime

from croniter import croniter
from django.utils.timezone import localtime
from django_q.models import Schedule

from core.config import conf

# The settings the schedules are built from: a saved change to one re-writes them.
SCHEDULED_SETTINGS = {"AUTOSCALE_INTERVAL_S", "HEALTH_CHECK_INTERVAL_S", "ENGINE_GRACE_PERIOD_S"}
# The settings reconcile acts on: a saved change to one has the worker reconcile at once.
RECONCILED_SETTINGS = {"MIN_REPLICAS", "MAX_REPLICAS", "MAX_ACTIVE_REPLICAS", "TARGET_IMAGE"}


def cron_every(seconds: int) -> str:
    """A cron expression (croniter's optional sixth field is seconds) for an interval."""
    if seconds < 60:
        return f"* * * * * */{seconds}"
    return f"*/{max(1, seconds // 60)} * * * *"


def wanted_schedules() -> dict[str, tuple[str, str]]:
    cfg = conf()
    return {
        "reconcile": ("engines.jobs.reconcile", cron_every(cfg.AUTOSCALE_INTERVAL_S)),
        "health": ("engines.jobs.health_pass", cron_every(cfg.HEALTH_CHECK_INTERVAL_S)),
        "cleanup": ("engines.jobs.cleanup", cron_every(max(30, min(cfg.ENGINE_GRACE_PERIOD_S, 60)))),
        "prune-stats": ("streams.jobs.prune", cron_every(3600)),
    }


def ensure_schedules() -> list[str]:
    """Create or update our schedules and drop ones we no longer define. A schedule whose cron
    changed (a setting saved while the fleet runs) gets its next run from the new cron, so a
    shorter interval applies at the scheduler's next tick instead of after the old one."""
    wanted = wanted_schedules()
    for name, (func, cron) in wanted.items():
        schedule, created = Schedule.objects.get_or_create(
            name=name,
            defaults={"func": func, "schedule_type": Schedule.CRON, "cron": cron, "repeats": -1},
        )
        if created or (schedule.func, schedule.cron, schedule.schedule_type, schedule.repeats) == (
                func, cron, Schedule.CRON, -1):
            continue
        cron_changed = schedule.cron != cron
        schedule.func, schedule.schedule_type, schedule.cron, schedule.repeats = (
            func, Schedule.CRON, cron, -1)
        if cron_changed:
            schedule.next_run = croniter(cron, localtime()).get_next(datetime)
        schedule.save()
    Schedule.objects.exclude(name__in=wanted).delete()
    return sorted(wanted)


def reconcile_soon() -> None:
    """A reconcile pass by the worker now (its task queue is polled every 0.5 s)."""
    from django_q.tasks import async_task

    async_task("orchestrator_site.schedules.reconcile_with_saved_settings",
               task_name="reconcile-after-settings")


def reconcile_with_saved_settings():
    """Reconcile with the saved settings read now, not up to a second ago: the change that asked
    for this pass was committed just before."""
    from core.config import reread
    from engines import jobs

    reread()
    return jobs.reconcile()
