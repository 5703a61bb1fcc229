"""Engine liveness, asked the way AceStream itself answers it: get_status on the engine's port."""

from __future__ import annotations

import time

import httpx

from orchestrator_site.config import conf

STATUS_PATH = "/server/api?api_version=3&method=get_status"


def status_url(host: str, port: int) -> str:
    return f"http://{host}:{port}{STATUS_PATH}"


def interpret(response: httpx.Response) -> str:
    """'' when the answer proves the engine alive, else the reason it does not."""
    if response.status_code != 200:
        return f"get_status answered HTTP {response.status_code}"
    try:
        response.json()
    except ValueError:
        return "get_status answered something other than JSON"
    return ""


def describe_failure(exc: Exception) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "get_status timed out"
    if isinstance(exc, httpx.ConnectError):
        return "connection refused"
    return f"get_status failed: {exc.__class__.__name__}"


def probe(host: str, port: int, timeout: float | None = None) -> str:
    """One synchronous check; '' means healthy."""
    timeout = timeout or conf().HEALTH_CHECK_TIMEOUT_S
    try:
        return interpret(httpx.get(status_url(host, port), timeout=timeout))
    except httpx.HTTPError as exc:
        return describe_failure(exc)


def wait_until_ready(host: str, port: int, deadline_s: float) -> str:
    """Poll get_status until it answers or the deadline passes; '' when ready, else the last reason."""
    deadline = time.monotonic() + deadline_s
    reason = "not checked"
    while time.monotonic() < deadline:
        reason = probe(host, port, timeout=min(2.0, max(0.2, deadline - time.monotonic())))
        if not reason:
            return ""
        time.sleep(0.1)
    return reason


def record_result(engine, reason: str) -> None:
    """Store one check's outcome on the engine; announce it when the status changed."""
    from django.db.models import F
    from django.utils import timezone

    from orchestrator_site.notify import notify

    from .models import Engine, Health

    status = Health.UNHEALTHY if reason else Health.HEALTHY
    changes = {
        "health_status": status,
        "last_health_check": timezone.now(),
        "last_health_error": reason[:500],
        "health_failures": F("health_failures") + 1 if reason else 0,
    }
    Engine.objects.filter(pk=engine.pk).update(**changes)
    if engine.health_status != status:
        notify("engine", action="health", engine=engine.container_name, health=status)
    engine.refresh_from_db()


def check_soon(engine) -> None:
    """Have the worker check a new engine right away, so it leaves `unknown` within seconds."""
    from django_q.tasks import async_task

    async_task("engines.jobs.check_until_ready", engine.pk, task_name=f"first-check-{engine.pk}")


def check_all() -> None:
    """Placeholder until the concurrent health pass lands."""
