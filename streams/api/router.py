from datetime import UTC, datetime
from typing import Literal

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from ninja import Router

from core import read_cache
from core.errors import Conflict, InvalidInput, NotFound, Unavailable
from core.rendering import json_response, render, render_response
from engines import listing
from engines.api.router import find_engine
from streams import engine_calls, services
from streams.models import Stream, StreamStatus

from . import schemas

router = Router(tags=["streams"])


@router.get("/engines/{container_id}", response=schemas.EngineDetail)
def get_engine(request, container_id: str):
    """One engine and its streams, newest first (all statuses, with their latest stats)."""
    engine = find_engine(container_id)
    return {
        "engine": listing.engine_states([engine])[0],
        "streams": services.with_latest_stats(Stream.objects.filter(engine=engine)
                                              .order_by("-started_at")),
    }


@router.post("/events/stream_started", response=schemas.StreamState)
def stream_started(request, body: schemas.StreamStartedIn):
    """A proxy started playing a stream on an engine (acexy's form: no container_id, host localhost)."""
    stream, created = services.record_stream_started(body)
    return render_response(schemas.StreamState, services.stream_with_latest_stats(stream, created=created))


@router.post("/events/stream_ended", response=schemas.StreamEndedOut)
def stream_ended(request, body: schemas.StreamEndedIn):
    """End a stream by id, else the newest started stream on the container; never another one."""
    updated, stream = services.record_stream_ended(body.stream_id, body.container_id, body.reason)
    if stream is not None:
        stream = services.stream_with_latest_stats(stream)
    return render_response(schemas.StreamEndedOut, {"updated": updated, "stream": stream})


@router.get("/streams", response=list[schemas.StreamState])
def list_streams(request, status: Literal["started", "ended"] | None = None,
                 container_id: schemas.ContainerRef | None = None):
    return json_response(read_cache.reuse(
        ("streams", status, container_id),
        lambda: render(list[schemas.StreamState],
                            services.list_streams(status=status, container_id=container_id))))


def _parse_since(raw: str) -> datetime:
    """RFC 3339; without an offset it means UTC. An unescaped `+` in a query string arrives as a
    space, so `...T10:00:00 00:00` is read as `+00:00`."""
    raw = raw.strip()
    try:
        moment = parse_datetime(raw) or parse_datetime(raw.replace(" ", "+"))
    except ValueError:
        moment = None
    if moment is None:
        raise InvalidInput(f"since={raw[:60]!r} is not an RFC 3339 timestamp "
                           "such as 2026-11-26T10:00:00+00:00")
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


def _stream(stream_id: str) -> Stream:
    stream = Stream.objects.filter(pk=stream_id).first()
    if stream is None:
        raise NotFound(f"no stream {stream_id[:200]!r}")
    return stream


def _started_stream(stream_id: str) -> Stream:
    stream = _stream(stream_id)
    if stream.status != StreamStatus.STARTED:
        raise Conflict(f"stream {stream_id[:200]!r} has ended ({stream.ended_reason or 'no reason'})")
    return stream


# `path:` lets ids of url-type keys (which contain `/`) reach the handler whole.
@router.get("/streams/{path:stream_id}/stats", response=list[schemas.StatsOut])
def stream_stats(request, stream_id: str, since: str | None = None):
    """Snapshots of one stream, oldest first (at most STATS_HISTORY_MAX)."""
    since_at = _parse_since(since) if since else None
    return render_response(list[schemas.StatsOut], services.stats_history(_stream(stream_id), since_at))


@router.get("/streams/{path:stream_id}/livepos", response=schemas.LiveposOut, exclude_unset=True)
def stream_livepos(request, stream_id: str):
    """The live position the engine reports for a started stream, asked now (its stat URL)."""
    stream = _started_stream(stream_id)
    found, problem = engine_calls.live_position(stream.stat_url)
    if found is None:
        raise Unavailable(f"no live position for stream {stream_id[:200]!r}: {problem}")
    return {"stream_id": stream.id, **found}


@router.delete("/streams/{path:stream_id}", response=schemas.StreamStoppedOut)
def stop_stream(request, stream_id: str):
    """Stop a started stream on its engine (command_url?method=stop) and end it (`manual_stop`),
    whether or not the engine confirms."""
    stream = _started_stream(stream_id)
    problem = services.stop_stream(stream)
    stream.refresh_from_db()
    return {"message": "Stream stopped successfully", "stream_id": stream.id,
            "engine_confirmed": not problem, "problem": problem or None,
            "stream": services.stream_with_latest_stats(stream)}
