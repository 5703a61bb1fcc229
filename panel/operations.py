"""What an operator can do from the panel or the admin, on top of the services the API uses."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from engines import health
from orchestrator_site.config import conf
from streams.models import Stream
from streams.services import end_streams

# Probes are network waits: a few at once keep "check 20 engines" near one timeout, not twenty.
PARALLEL_PROBES = 8


def check_engines(engines) -> list[tuple[object, str]]:
    """Probe each engine now and store the outcome as the scheduled check does.
    Returns (engine, reason) pairs; '' means healthy, engines without a port are skipped."""
    engines = [engine for engine in engines if engine.port is not None]
    if not engines:
        return []
    with ThreadPoolExecutor(max_workers=min(PARALLEL_PROBES, len(engines))) as pool:
        reasons = list(pool.map(lambda engine: health.probe(engine.host, engine.port), engines))
    # Records are written here, in the caller's thread: the probes only did network waits.
    for engine, reason in zip(engines, reasons, strict=True):
        health.record_result(engine, reason)
    return list(zip(engines, reasons, strict=True))


STOPPED_BY_OPERATOR = "stopped_by_operator"


def stop_stream(stream) -> str:
    """Ask the engine to stop the session (GET command_url?method=stop), then end the stream
    either way: an operator who stops a stream wants it gone from the fleet, and an engine that
    cannot be reached is not serving it. Returns '' or why the engine did not confirm."""
    problem = ""
    if not stream.command_url:
        problem = "no command URL was reported"
    else:
        try:
            response = httpx.get(stream.command_url, params={"method": "stop"},
                                 timeout=conf().HEALTH_CHECK_TIMEOUT_S)
            answer = response.json() if response.status_code == 200 else None
            if response.status_code != 200:
                problem = f"the engine answered HTTP {response.status_code}"
            elif not isinstance(answer, dict):
                problem = "the engine's answer was not understood"
            elif answer.get("error"):
                problem = f"the engine said: {answer['error']}"
        except (httpx.HTTPError, ValueError) as exc:
            problem = f"the engine could not be asked: {exc.__class__.__name__}"
    end_streams(Stream.objects.filter(pk=stream.pk), STOPPED_BY_OPERATOR)
    return problem
