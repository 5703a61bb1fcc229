"""The django-q2 schedules of the worker, written idempotently at every start.

These are the jobs of 30 s and more; the 5 s loops and the Docker events stream run as loops of
the same worker process (see orchestrator_site/loops.py).
"""

from django_q.models import Schedule

from core.config import conf


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
    """Create or update our schedules and drop ones we no longer define."""
    wanted = wanted_schedules()
    for name, (func, cron) in wanted.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={"func": func, "schedule_type": Schedule.CRON, "cron": cron, "repeats": -1},
        )
    Schedule.objects.exclude(name__in=wanted).delete()
    return sorted(wanted)
