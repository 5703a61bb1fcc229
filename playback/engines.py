"""The engine side of playback, in plain (sync) Django code the async hub calls from threads:
choose an engine as acexy would, or provision one; open a session of a content on it and record
the stream; end it. Transactions are short and never span a call to an engine or Docker."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime

import httpx
from django.db import close_old_connections

from core.config import conf
from core.errors import UpstreamFailed
from core.instance import instance_id
from core.request_slots import waiting_elsewhere
from engines import docker_gateway, health, provisioning
from engines.models import Engine, Health
from streams import engine_calls, services
from streams.api.schemas import StreamStartedIn
from streams.models import Stream

from .content import Content

log = logging.getLogger(__name__)

# A content's engine session is asked for with the engine's JSON API; it answers at once.
SESSION_START_TIMEOUT_S = 10.0
RESTART_REASON = "orchestrator_restart"

# Engines handed to a content whose stream is not recorded yet: two contents starting at once
# must not both take the last free place on one engine.
_claims_lock = threading.Lock()
_claims: dict[int, int] = {}


def played_by() -> str:
    return f"orchestrator:{instance_id()}"


def _rank(engine: Engine):
    """acexy's order: healthy first, then fewer started streams, then the forwarded one, then the
    oldest last use (never used first), then the lowest port."""
    return (engine.health_status != Health.HEALTHY, engine.started, not engine.forwarded,
            engine.last_stream_usage or datetime.min.replace(tzinfo=engine.first_seen.tzinfo),
            engine.port or 0)


def _claim(avoid: frozenset[str]) -> Engine | None:
    """The best engine with room (fewer than MAX_STREAMS_PER_ENGINE started streams, counting
    claims), claimed; an unhealthy engine is left alone."""
    limit = conf().MAX_STREAMS_PER_ENGINE
    candidates = (Engine.objects.managed().listed().running().exclude(container_name__in=avoid)
                  .exclude(health_status=Health.UNHEALTHY)
                  .annotate(started=services.started_stream_count()))
    with _claims_lock:
        free = [engine for engine in candidates
                if engine.started + _claims.get(engine.pk, 0) < limit and engine.port]
        if not free:
            return None
        engine = min(free, key=_rank)
        _claims[engine.pk] = _claims.get(engine.pk, 0) + 1
        return engine


def _unclaim(engine: Engine) -> None:
    with _claims_lock:
        left = _claims.get(engine.pk, 1) - 1
        if left:
            _claims[engine.pk] = left
        else:
            _claims.pop(engine.pk, None)


def _new_engine() -> Engine:
    """One more engine, within MAX_REPLICAS and whatever else the gate says (ProvisioningBlocked
    otherwise), once it answers get_status."""
    engine = provisioning.provision_engine()
    with _claims_lock:
        _claims[engine.pk] = _claims.get(engine.pk, 0) + 1
    if reason := health.wait_for_engine(engine):
        _unclaim(engine)
        raise UpstreamFailed(f"new engine {engine.container_name} did not become ready: {reason}")
    return engine


@dataclass(frozen=True)
class OpenedSession:
    engine_pk: int
    engine_name: str
    container_id: str
    playback_url: str
    command_url: str
    stream_id: str


def open_session(content: Content, avoid: frozenset[str]) -> OpenedSession:
    """Start the content on an engine with room (else a new one) and record its stream."""
    close_old_connections()
    engine = _claim(avoid) or _new_engine()
    try:
        session = _ask_engine(engine, content)
        stream, _ = services.record_stream_started(StreamStartedIn(
            container_id=engine.container_id,
            engine={"host": engine.host, "port": engine.port},
            stream={"key_type": content.key_type, "key": content.value},
            session={"playback_session_id": session["playback_session_id"],
                     "stat_url": session["stat_url"], "command_url": session["command_url"],
                     "is_live": int(bool(session.get("is_live", 1)))},
        ), played_by=played_by())
    finally:
        _unclaim(engine)
    return OpenedSession(engine.pk, engine.container_name, engine.container_id,
                         session["playback_url"], session["command_url"], stream.id)


def _ask_engine(engine: Engine, content: Content) -> dict:
    """GET /ace/getstream?…&format=json on the engine: its session's URLs."""
    url = f"http://{engine.host}:{engine.port}/ace/getstream"
    try:
        with waiting_elsewhere():
            answer = httpx.get(url, params=content.engine_params(), timeout=SESSION_START_TIMEOUT_S)
        document = answer.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise UpstreamFailed(f"{engine.container_name} could not start {content.key}: "
                             f"{exc.__class__.__name__}") from exc
    response = document.get("response") if isinstance(document, dict) else None
    if not isinstance(response, dict) or not response.get("playback_url"):
        error = document.get("error") if isinstance(document, dict) else None
        raise UpstreamFailed(f"{engine.container_name} refused {content.key}: {error or 'no session'}")
    return response


def end_session(opened: OpenedSession, reason: str, engine_dropped: bool) -> str:
    """End the stream with `reason` and stop the engine's session. A dropped or stalled upstream
    whose engine no longer runs ended because the engine died; that is the reason recorded (and
    returned)."""
    close_old_connections()
    if engine_dropped and not _engine_runs(opened):
        reason = "engine_died"
    services.end_streams(Stream.objects.filter(pk=opened.stream_id), reason)
    if problem := engine_calls.stop_session(opened.command_url):
        log.debug("stopping %s on %s: %s", opened.stream_id, opened.engine_name, problem)
    return reason


# A killed engine's connection drops at once, a moment before Docker reports it dead.
DEATH_SETTLES_S = 1.5


def _engine_runs(opened: OpenedSession) -> bool:
    deadline = time.monotonic() + DEATH_SETTLES_S
    while True:
        try:
            view = docker_gateway.get_container(opened.container_id)
        except docker_gateway.DockerError:
            return True  # nothing known: keep the upstream's own reason
        if view is None or not view.running:
            return False
        if time.monotonic() > deadline:
            return True
        time.sleep(0.1)


def end_orphans() -> int:
    """At the start of the playback owner: the streams this orchestrator played before it
    stopped have no reader any more. Stop their engine sessions and end them, so their engines
    count as idle again; players that come back get a fresh session."""
    close_old_connections()
    orphans = list(Stream.objects.started().filter(played_by=played_by()))
    for stream in orphans:
        engine_calls.stop_session(stream.command_url)
    services.end_streams(Stream.objects.filter(pk__in=[s.pk for s in orphans]), RESTART_REASON)
    from .models import PlayedContent

    PlayedContent.objects.all().delete()
    return len(orphans)
