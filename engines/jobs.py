"""Entry points the django-q2 worker runs (scheduled in orchestrator_site/schedules.py), each
recorded as a job (core.loops.run_recorded)."""

import logging

from core.config import conf
from core.loops import run_recorded
from core.models import Counter

from . import gate, health, lifecycle, sync
from .cleanup import cleanup_pass
from .models import Engine, State

log = logging.getLogger(__name__)


def reconcile():
    return run_recorded("reconcile", sync.reconcile)


def cleanup():
    return run_recorded("cleanup", cleanup_pass)


def check_until_ready(engine_pk: int, first_start: bool = False) -> str:
    """The first check of an engine that just started. After a provision it decides, for the
    circuit breaker, whether the start worked: an engine that never answers get_status within
    STARTUP_TIMEOUT_S (a crash-looping image, say) is a failed start like one Docker refused."""
    engine = Engine.objects.filter(pk=engine_pk).first()
    if engine is None or engine.port is None:
        return "gone"
    reason = health.wait_for_engine(engine)
    if first_start and Engine.objects.filter(pk=engine_pk).exists():
        if reason:
            Counter.add("orch_provision_failures_total", reason="not_ready")
            gate.record_start_failure(f"{engine.container_name} did not answer get_status within "
                                      f"{conf().STARTUP_TIMEOUT_S} s: {reason}")
        else:
            gate.record_start_success()
    return reason or "healthy"


def health_pass() -> dict:
    """The health job: check every engine, then replace the managed ones that keep failing.
    Recorded as two jobs so "health" times the checks alone (replacing includes provisioning)."""
    result = run_recorded("health", health.check_all)
    result["replaced"] = run_recorded("replace-unhealthy", replace_failing_engines)
    return result


def replace_failing_engines() -> list[str]:
    """Remove managed engines that failed HEALTH_FAILURE_THRESHOLD checks in a row and serve no
    started stream, then let reconcile start fresh ones if the replica target needs them.

    Reconcile rather than one new engine per removed one: the target (MIN_REPLICAS) is what the
    fleet must keep, and engines above it exist only while a proxy asks for them, so a surplus
    engine that died is not owed a successor; reconcile is also serialised across processes, so
    this never overshoots beside the reconcile job. An engine with a started stream is left
    marked unhealthy: the proxy moves its viewers away and its streams end when the collector
    sees it gone."""
    threshold = conf().HEALTH_FAILURE_THRESHOLD
    failing = Engine.objects.managed().idle().exclude(state=State.STARTING).filter(
        health_failures__gte=threshold)
    removed = []
    for engine in failing:
        if not Engine.objects.idle().filter(pk=engine.pk).exists():
            continue  # a stream started since the query
        log.warning("replacing engine %s: %d failed health checks, last: %s",
                    engine.container_name, engine.health_failures, engine.last_health_error)
        lifecycle.delete_engine(engine, "unhealthy")
        removed.append(engine.container_name)
    if removed:
        Counter.add("orch_engines_replaced_total", len(removed), reason="unhealthy")
        sync.reconcile()
    return removed
