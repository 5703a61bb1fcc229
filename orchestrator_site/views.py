from django.conf import settings
from django.contrib import admin
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.defaults import page_not_found

from core.config import conf
from core.models import JobRun
from engines import docker_gateway, gate
from vpn.models import VpnState

# Heartbeats: the worker's reconcile job runs every AUTOSCALE_INTERVAL_S, its collector loop every
# COLLECT_INTERVAL_S. Several missed runs mean it is down.
WORKER_STALE_MIN_S = 180
WATCHER_STALE_MIN_S = 60


def health(request):
    """Liveness for Docker's healthcheck and load balancers: 200 when every part is up, else 503.
    Each check says "ok" or why not; `provisioning` names what blocks new engines."""
    cfg = conf()
    checks = {"database": _database(), "docker": "ok" if docker_gateway.ping() else "down: unreachable"}
    if checks["database"] == "ok":
        checks["worker"] = _heartbeat("reconcile", max(WORKER_STALE_MIN_S, 4 * cfg.AUTOSCALE_INTERVAL_S))
        checks["watcher"] = _heartbeat("collector", max(WATCHER_STALE_MIN_S, 10 * cfg.COLLECT_INTERVAL_S))
        if cfg.vpn_enabled:
            checks["vpn"] = _vpn()
        checks["provisioning"] = _provisioning()
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse({"status": "ok" if healthy else "degraded", "checks": checks},
                        status=200 if healthy else 503)


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        return f"down: {exc.__class__.__name__}"
    return "ok"


def _heartbeat(job: str, stale_after_s: float) -> str:
    last = JobRun.objects.filter(name=job).values_list("last_started", flat=True).first()
    if last is None:
        return f"down: job {job!r} has not run yet"
    age = (timezone.now() - last).total_seconds()
    if age > stale_after_s:
        return f"down: job {job!r} last ran {age:.0f} s ago"
    return "ok"


def _vpn() -> str:
    state = VpnState.stored()
    return "ok" if state.is_up else f"down: {state.why_down()}"


def _provisioning() -> str:
    """Blocked by a fault (Docker, image, VPN, breaker) is down; a full fleet is not a fault."""
    blocked = gate.blocked()
    if blocked is None or not blocked.is_fault:
        return "ok"
    return f"down: {blocked.code}: {blocked.text()}"


def not_found(request, exception=None):
    """Unknown URLs answer JSON like the API does; browsers still get Django's page."""
    if "text/html" in request.headers.get("Accept", ""):
        return page_not_found(request, exception)
    return JsonResponse({"detail": f"no route for {request.path[:200]!r}"}, status=404)


def locked_out(request, original_response=None, credentials=None):
    """django-axes' answer to a login refused after AXES_FAILURE_LIMIT failures of that username
    from that address: 429 with Retry-After, as JSON for a client that asks for JSON, else a page
    that looks like the admin's."""
    wait = int(settings.AXES_COOLOFF_TIME.total_seconds())
    message = (f"Too many failed logins for this username from your address: try again in "
               f"{wait // 60} minutes.")
    headers = {"Retry-After": str(wait)}
    accept = request.headers.get("Accept", "")
    if ("json" in accept and "text/html" not in accept) or \
            request.headers.get("X-Requested-With") == "XMLHttpRequest":
        return JsonResponse({"detail": message, "retry_after_seconds": wait}, status=429,
                            headers=headers)
    context = {**admin.site.each_context(request), "title": "Too many failed logins",
               "message": message}
    response = render(request, "admin/locked_out.html", context, status=429)
    response["Retry-After"] = headers["Retry-After"]
    return response
