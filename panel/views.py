"""/panel: the live dashboard (staff session). Its JSON endpoints answer 401/403/404 as JSON, never
with a login page, since a script reads them."""

from functools import wraps

from django.contrib.admin.views.decorators import staff_member_required
from django.core.serializers.json import DjangoJSONEncoder
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET
from ninja.utils import check_csrf

from core.auth import SAFE_METHODS
from engines import docker_gateway, health, lifecycle
from engines.models import Engine

from .snapshot import fleet_snapshot


def _json(payload, status: int = 200) -> JsonResponse:
    return JsonResponse(payload, status=status, encoder=DjangoJSONEncoder, safe=False)


def staff_json(*methods: str):
    """A view for panel.js, not a person: only `methods`, a staff session, and the CSRF token on
    POST; every refusal is JSON (Django's own CSRF and method refusals are HTML or empty)."""

    def decorate(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method not in methods:
                response = _json({"detail": f"use {' or '.join(methods)}"}, status=405)
                response["Allow"] = ", ".join(methods)
                return response
            user = request.user
            if not user.is_authenticated:
                return _json({"detail": "log in first"}, status=401)
            if not user.is_staff:
                return _json({"detail": "staff only"}, status=403)
            if request.method not in SAFE_METHODS and check_csrf(request) is not None:
                return _json({"detail": "CSRF check failed: reload the page"}, status=403)
            return view(request, *args, **kwargs)

        return csrf_exempt(never_cache(wrapped))

    return decorate


@require_GET
@never_cache
@staff_member_required
def dashboard(request):
    return render(request, "panel/dashboard.html", {"snapshot": fleet_snapshot()})


@staff_json("GET")
def state(request):
    return _json(fleet_snapshot())


def _engine_or_404(pk: int):
    engine = Engine.objects.filter(pk=pk).first()
    if engine is None:
        return None, _json({"detail": f"no engine {pk}"}, status=404)
    return engine, None


@staff_json("POST")
def check_engine(request, pk: int):
    """Probe now, store the outcome as the scheduled check does, answer with it."""
    engine, missing = _engine_or_404(pk)
    if missing:
        return missing
    if engine.port is None:
        return _json({"detail": f"{engine.container_name} has no published port"}, status=409)
    [(_, reason)] = health.check_now([engine])
    return _json({"engine": engine.container_name, "health": "unhealthy" if reason else "healthy",
                  "reason": reason})


@staff_json("POST")
def delete_engine(request, pk: int):
    """Stop and remove the container, as DELETE /containers/{id} does."""
    engine, missing = _engine_or_404(pk)
    if missing:
        return missing
    try:
        lifecycle.delete_engine(engine)
    except docker_gateway.DockerUnavailable as exc:
        return _json({"detail": str(exc)}, status=503)
    return _json({"deleted": engine.container_name})
