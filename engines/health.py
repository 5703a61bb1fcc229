"""Engine liveness, asked the way AceStream itself answers it: get_status on the engine's port.

`check_all` is the health job's pass: every listed engine at once, so a pass takes about one
HEALTH_CHECK_TIMEOUT_S however many engines hang. `probe`/`poll_get_status` are the single-engine
checks used right after provisioning (`wait_for_engine`, `check_soon`).
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from collections import defaultdict
from collections.abc import Callable

import httpx
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.config import conf
from core.models import Counter
from core.notify import notify
from core.request_slots import waiting_elsewhere

from .models import Engine, Health

STATUS_PATH = "/server/api?api_version=3&method=get_status"
TIMED_OUT = "get_status timed out"
HEALTH_FIELDS = ["health_status", "last_health_check", "last_health_error", "health_failures"]


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
        return TIMED_OUT
    if isinstance(exc, httpx.ConnectError):
        return "connection refused"
    if isinstance(exc, httpx.RemoteProtocolError):
        # Docker's port proxy accepts a connection and closes it while nothing in the container
        # listens yet (or any more), which is what an engine still starting looks like.
        return "get_status connection closed without an answer (engine not listening)"
    return f"get_status failed: {exc.__class__.__name__}"


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context per process: httpx would load the CA bundle again for every client
    (20-40 ms), although engines only speak plain HTTP."""
    return httpx.create_ssl_context()


def probe(host: str, port: int, timeout: float | None = None) -> str:
    """One synchronous check; '' means healthy."""
    timeout = timeout or conf().HEALTH_CHECK_TIMEOUT_S
    try:
        with httpx.Client(verify=_tls(), timeout=timeout) as client, waiting_elsewhere():
            return interpret(client.get(status_url(host, port)))
    except httpx.HTTPError as exc:
        return describe_failure(exc)


REMOVED = "removed before it answered get_status"
# How often a wait asks whether the engine still exists (one query; probes come every 0.1 s).
GONE_CHECK_EVERY_S = 1.0


def poll_get_status(host: str, port: int, deadline_s: float,
                    exists: Callable[[], bool] | None = None) -> str:
    """Poll get_status until it answers or the deadline passes; '' when ready, else the last reason.
    With `exists`, a wait for an engine that was removed meanwhile ends at once (REMOVED)."""
    now = time.monotonic()
    deadline, next_exists_check = now + deadline_s, now + GONE_CHECK_EVERY_S
    reason = "not checked"
    with waiting_elsewhere():
        while time.monotonic() < deadline:
            reason = probe(host, port, timeout=min(2.0, max(0.2, deadline - time.monotonic())))
            if not reason:
                return ""
            if exists is not None and time.monotonic() >= next_exists_check:
                if not exists():
                    return REMOVED
                next_exists_check = time.monotonic() + GONE_CHECK_EVERY_S
            time.sleep(0.1)
    return reason


def record_result(engine, reason: str) -> None:
    """Store one check's outcome on the engine; announce it when the status changed."""
    store_results([(engine, reason)])
    try:
        engine.refresh_from_db(fields=HEALTH_FIELDS)
    except Engine.DoesNotExist:
        pass  # deleted while it was being checked


def store_results(outcomes: list[tuple[Engine, str]]) -> None:
    """Write check outcomes in one transaction, one UPDATE per distinct outcome: healthy clears the
    failure count and reason; a failure adds one to the count and keeps its reason. Engines
    deleted meanwhile are simply not updated."""
    now = timezone.now()
    by_reason: dict[str, list[int]] = defaultdict(list)
    for engine, reason in outcomes:
        by_reason[reason[:500]].append(engine.pk)
    with transaction.atomic():
        for reason, pks in by_reason.items():
            engines = Engine.objects.filter(pk__in=pks)
            if reason:
                engines.update(health_status=Health.UNHEALTHY, last_health_check=now,
                               last_health_error=reason, health_failures=F("health_failures") + 1)
            else:
                engines.update(health_status=Health.HEALTHY, last_health_check=now,
                               last_health_error="", health_failures=0)
        for engine, reason in outcomes:
            status = Health.UNHEALTHY if reason else Health.HEALTHY
            if engine.health_status != status:
                notify("engine", action="health", engine=engine.container_name, health=status)


def wait_for_engine(engine) -> str:
    """Block until the engine answers get_status (up to STARTUP_TIMEOUT_S) and record the
    outcome; '' when ready, else the reason (`wait_ready` of the API and the command)."""
    # A removed engine (its container died and stayed down) ends the wait: a first check would
    # otherwise hold one of the worker's task threads for the whole STARTUP_TIMEOUT_S.
    reason = poll_get_status(engine.host, engine.port, conf().STARTUP_TIMEOUT_S,
                             exists=Engine.objects.filter(pk=engine.pk).exists)
    record_result(engine, reason)
    return reason


def check_soon(engine, first_start: bool = False) -> None:
    """Have the worker check a new engine right away, so it leaves `unknown` within seconds.
    After a provision (`first_start`) the outcome also tells the start's circuit breaker."""
    from django_q.tasks import async_task

    async_task("engines.jobs.check_until_ready", engine.pk, first_start,
               task_name=f"first-check-{engine.pk}")


async def _probe_async(client: httpx.AsyncClient, host: str, port: int, deadline: float) -> str:
    try:
        # httpx's timeout bounds each phase (connect, each read); the deadline bounds the whole
        # check, and being common to the pass, the pass itself.
        remaining = deadline - asyncio.get_running_loop().time()
        response = await asyncio.wait_for(client.get(status_url(host, port)), max(0.0, remaining))
    except TimeoutError:
        return TIMED_OUT
    except httpx.HTTPError as exc:
        return describe_failure(exc)
    return interpret(response)


async def _probe_all(targets: list[tuple[str, int]], timeout: float) -> list[str]:
    deadline = asyncio.get_running_loop().time() + timeout
    # No pool cap: a hanging engine must never make another one's check wait for a connection.
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    async with httpx.AsyncClient(verify=_tls(), timeout=timeout, limits=limits) as client:
        return await asyncio.gather(*(_probe_async(client, host, port, deadline)
                                      for host, port in targets))


def probe_many(targets: list[tuple[str, int]], timeout: float | None = None) -> list[str]:
    """Check many (host, port) at once; one reason per target, '' for healthy."""
    if not targets:
        return []
    return asyncio.run(_probe_all(targets, timeout or conf().HEALTH_CHECK_TIMEOUT_S))


def check_now(engines) -> list[tuple[Engine, str]]:
    """Probe the given engines now, all at once, and store the outcomes as the scheduled pass
    does (an operator's "check health now"). Returns (engine, reason) pairs, '' meaning healthy;
    engines without a published port are skipped."""
    engines = [engine for engine in engines if engine.port is not None]
    outcomes = list(zip(engines, probe_many([(e.host, e.port) for e in engines]), strict=True))
    store_results(outcomes)
    return outcomes


def check_all() -> dict:
    """Check every listed engine (managed and external) concurrently and store the outcomes."""
    started = time.monotonic()
    engines = [engine for engine in Engine.objects.listed() if engine.port]
    reasons = probe_many([(engine.host, engine.port) for engine in engines])
    store_results(list(zip(engines, reasons, strict=True)))
    unhealthy = [engine.container_name for engine, reason in zip(engines, reasons, strict=True)
                 if reason]
    seconds = time.monotonic() - started
    if engines:
        Counter.add("orch_health_checks_total", len(engines) - len(unhealthy), result="healthy")
        Counter.add("orch_health_checks_total", len(unhealthy), result="unhealthy")
    return {"checked": len(engines), "unhealthy": unhealthy, "seconds": round(seconds, 3)}
