from datetime import timedelta

from django.db import connection
from django.http import JsonResponse
from django.utils import timezone

from engines import docker_gateway

from .models import JobRun

# The worker's reconcile job runs every AUTOSCALE_INTERVAL_S; several missed runs mean it is down.
HEARTBEAT_STALE_S = 180


def health(request):
    """Liveness for Docker's healthcheck and load balancers: 503 when a part is down."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any database failure means "down"
        checks["database"] = f"down: {exc.__class__.__name__}"
    checks["docker"] = "ok" if docker_gateway.ping() else "down"
    last = JobRun.objects.filter(name="reconcile").values_list("last_started", flat=True).first()
    fresh = last and last > timezone.now() - timedelta(seconds=HEARTBEAT_STALE_S)
    checks["worker"] = "ok" if fresh else "stale"
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse({"status": "ok" if healthy else "degraded", "checks": checks},
                        status=200 if healthy else 503)
