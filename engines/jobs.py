"""Entry points the django-q2 worker runs (scheduled in engines/management/commands/schedulejobs)."""

import logging

from django.utils import timezone

from orchestrator_site.config import conf
from orchestrator_site.models import JobRun

from . import cleanup, health, services
from .models import Engine

log = logging.getLogger(__name__)


def run_recorded(name: str, fn):
    """Run a job and record its outcome for /health and /metrics."""
    started = timezone.now()
    try:
        result = fn()
    except Exception as exc:
        JobRun.record(name, started, error=f"{exc.__class__.__name__}: {exc}")
        log.exception("job %s failed", name)
        raise
    JobRun.record(name, started)
    return result


def reconcile():
    return run_recorded("reconcile", services.reconcile)


def gc():
    return run_recorded("cleanup", cleanup.run_cleanup)


def check_until_ready(engine_pk: int) -> str:
    engine = Engine.objects.filter(pk=engine_pk).first()
    if engine is None or engine.port is None:
        return "gone"
    reason = health.wait_until_ready(engine.host, engine.port, conf().STARTUP_TIMEOUT_S)
    health.record_result(engine, reason)
    return reason or "healthy"


def health_pass():
    return run_recorded("health", health.check_all)
