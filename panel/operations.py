"""What an operator can do from the panel or the admin, on top of the services the API uses."""

from __future__ import annotations

import httpx

from engines import health
from orchestrator_site.config import conf
from orchestrator_site.request_slots import waiting_elsewhere
from streams.models import Stream
from streams.services import end_streams


def check_engines(engines) -> list[tuple[object, str]]:
    """Probe the engines now, all at once, and store the outcomes as the scheduled pass does.
    Returns (engine, reason) pairs; '' means healthy, engines without a port are skipped."""
    engines = [engine for engine in engines if engine.port is not None]
    reasons = health.probe_many([(engine.host, engine.port) for engine in engines])
    outcomes = list(zip(engines, reasons, strict=True))
    health.store_results(outcomes)
    return outcomes


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
            with waiting_elsewhere():
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
