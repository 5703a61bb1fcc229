"""What the proxy reports about its streams, and how a stream ends.

Every write is one short transaction without a network call inside. A stream's state only moves
through `record_stream_started` and `end_streams`, so the engine's grace clock (`idle_since`) and
the event counters follow every change exactly once.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from core.config import conf
from core.errors import InvalidInput
from core.models import Counter
from core.notify import notify
from engines.models import Engine, State

from . import engine_calls
from .api.schemas import StreamStartedIn
from .models import StatSnapshot, Stream, StreamStatus

# An operator stopped the stream (DELETE /streams/{id}, the admin, the panel).
MANUAL_STOP = "manual_stop"
# Names under which a proxy on the orchestrator's host reaches a published engine port.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
STAT_FIELDS = ("ts", "peers", "speed_down", "speed_up", "downloaded", "uploaded", "status")


class StreamRejected(InvalidInput):
    """The event cannot be accepted as sent; `str()` says why."""


def stream_id_of(event: StreamStartedIn) -> str:
    return event.labels.get("stream_id") or f"{event.stream.key}|{event.session.playback_session_id}"


def _same_host_names(host: str) -> set[str]:
    host = host.lower().strip("[]")
    return set(LOOPBACK_HOSTS) if host in LOOPBACK_HOSTS else {host}


def _find_engine(event: StreamStartedIn) -> Engine | None:
    """The engine the event names: by container id (or name), else a managed engine on that host
    port (acexy says `localhost` where the record says 127.0.0.1), else an external engine
    already recorded for that address."""
    if event.container_id:
        engine = Engine.objects.filter(
            Q(container_id=event.container_id) | Q(container_name=event.container_id)).first()
        if engine is not None:
            return engine
    engine = Engine.objects.managed().filter(host_http_port=event.engine.port).first()
    if engine is not None or event.container_id:
        return engine
    return Engine.objects.filter(
        managed=False, host__in=_same_host_names(event.engine.host),
        host_http_port=event.engine.port,
    ).first()


def _external_engine(event: StreamStartedIn, now: datetime) -> Engine:
    """An engine the proxy runs itself: recorded so its streams have an engine, never managed.
    Only on hosts the operator allows, since the collector will fetch its stat URLs."""
    host = event.engine.host.lower().strip("[]")
    if host not in conf().external_engine_hosts:
        raise StreamRejected(
            f"no engine of this orchestrator listens on port {event.engine.port}, and engines of "
            f"your own are accepted only on {', '.join(sorted(conf().external_engine_hosts))} "
            "(EXTERNAL_ENGINE_HOSTS)")
    container_id = event.container_id or f"external-{host}-{event.engine.port}"
    try:
        # A savepoint: two processes recording the same new engine at once meet the unique
        # columns, and the loser takes the winner's row (on PostgreSQL an error would otherwise
        # abort the whole event's transaction).
        with transaction.atomic():
            return Engine.objects.create(
                container_id=container_id,
                container_name=container_id,
                host=host,
                host_http_port=event.engine.port,
                container_http_port=event.engine.port,
                managed=False,
                state=State.RUNNING,
                first_seen=now,
                last_seen=now,
            )
    except IntegrityError:
        return Engine.objects.get(container_id=container_id)


def check_engine_url(url: str, field: str, engine: Engine) -> None:
    """The orchestrator fetches these URLs itself: they may only lead to the engine's own port, on
    its recorded host or a loopback name, so an event cannot point it at another host."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # brackets that do not make an IPv6 address, a port out of range
        raise StreamRejected(f"{field} is not a valid URL: {url[:200]!r}") from None
    if parts.scheme != "http" or not parts.hostname or parts.username or parts.password:
        raise StreamRejected(f"{field} must be a plain http:// URL of the engine, got {url[:200]!r}")
    allowed = _same_host_names(engine.host) | LOOPBACK_HOSTS
    if parts.hostname not in allowed or port != engine.port:
        raise StreamRejected(
            f"{field} must point at the engine's port {engine.port} on {engine.host} or on a "
            f"loopback name, not at {parts.hostname}:{port}")


@transaction.atomic
def record_stream_started(event: StreamStartedIn, played_by: str = "") -> tuple[Stream, bool]:
    """Create or update the stream the event describes; a repeated start changes nothing twice.
    Returns the stream and whether it was created. `played_by` marks a stream the orchestrator
    plays itself (playback)."""
    now = timezone.now()
    engine = _find_engine(event) or _external_engine(event, now)
    for field in ("stat_url", "command_url"):
        check_engine_url(getattr(event.session, field), f"session.{field}", engine)
    fields = {
        "key_type": event.stream.key_type,
        "key": event.stream.key,
        "engine": engine,
        "container_id": engine.container_id or "",
        "playback_session_id": event.session.playback_session_id,
        "stat_url": event.session.stat_url,
        "command_url": event.session.command_url,
        "is_live": bool(event.session.is_live),
        "labels": event.labels,
        "played_by": played_by,
    }
    stream_id = stream_id_of(event)
    stream, created = Stream.objects.select_for_update().get_or_create(
        pk=stream_id, defaults={**fields, "started_at": now})
    previous_engine_id = None if created else stream.engine_id
    restarted = not created and stream.status == StreamStatus.ENDED
    if not created:
        for name, value in fields.items():
            setattr(stream, name, value)
        if restarted:
            stream.status = StreamStatus.STARTED
            stream.started_at = now
            stream.ended_at = None
            stream.ended_reason = ""
        stream.save()
    Engine.objects.filter(pk=engine.pk).update(last_stream_usage=now, idle_since=None)
    if previous_engine_id not in (None, engine.pk):
        _start_idle_clocks([previous_engine_id], now)
    if created or restarted:
        Counter.add("orch_events_started_total")
    notify("stream", action="started", streams=[stream_id], engine=engine.container_name)
    return stream, created


def end_streams(streams: QuerySet, reason: str) -> list[Stream]:
    """End the started streams among `streams`, whoever reports it (proxy event, collector, engine
    gone); returns the streams that really ended, as they now are, and only those are counted.
    Engines left without a started stream start their grace clock."""
    ended_fields = {"status": StreamStatus.ENDED, "ended_at": timezone.now(),
                    "ended_reason": reason[:200]}
    with transaction.atomic():
        ended = list(streams.filter(status=StreamStatus.STARTED).select_for_update())
        if not ended:
            return []
        Stream.objects.filter(pk__in=[stream.pk for stream in ended]).update(**ended_fields)
        for stream in ended:
            for name, value in ended_fields.items():
                setattr(stream, name, value)
        _start_idle_clocks({stream.engine_id for stream in ended if stream.engine_id},
                           ended_fields["ended_at"])
        Counter.add("orch_events_ended_total", len(ended))
    notify("stream", action="ended", streams=[stream.pk for stream in ended], reason=reason)
    return ended


def _start_idle_clocks(engine_ids, now: datetime) -> None:
    Engine.objects.filter(pk__in=engine_ids, idle_since__isnull=True).exclude(
        streams__status=StreamStatus.STARTED).update(idle_since=now)


def record_stream_ended(stream_id: str | None, container_id: str | None,
                        reason: str | None) -> tuple[bool, Stream | None]:
    """By stream id; only without one, the newest started stream on the container. An id that
    never started (acexy's `<key>|fetch_failed`) ends nothing. Returns whether the stream ended
    now, and the stream (None if there is none)."""
    if not stream_id:
        stream_id = Stream.objects.started().filter(
            Q(container_id=container_id) | Q(engine__container_name=container_id)
        ).order_by("-started_at").values_list("pk", flat=True).first()
        if stream_id is None:
            return False, None
    # Ending first spares the usual case, a started stream, a read of its own.
    ended = end_streams(Stream.objects.filter(pk=stream_id), reason or "unspecified")
    if ended:
        return True, ended[0]
    return False, Stream.objects.filter(pk=stream_id).first()


def stop_stream(stream: Stream, reason: str = MANUAL_STOP) -> str:
    """Ask the engine to stop the session, then end the stream either way: an operator who stops
    a stream wants it gone from the fleet, and an engine that cannot be reached is not serving
    it. Returns '' or why the engine did not confirm."""
    problem = engine_calls.stop_session(stream.command_url)
    end_streams(Stream.objects.filter(pk=stream.pk), reason)
    return problem


def end_streams_of_engine(engine: Engine, reason: str) -> list[Stream]:
    """The engine died or was removed: its streams end now and keep their history."""
    same_container = Q(container_id=engine.container_id) if engine.container_id else Q()
    return end_streams(Stream.objects.filter(Q(engine=engine) | same_container), reason)


def started_stream_ids(engine_pks) -> dict[int, list[str]]:
    """The ids of the started streams of each engine (the engines app asks, engines.hooks)."""
    found: dict[int, list[str]] = {}
    for engine_pk, stream_id in Stream.objects.started().filter(
            engine_id__in=engine_pks).values_list("engine_id", "id"):
        found.setdefault(engine_pk, []).append(stream_id)
    return found


def started_stream_count():
    """An engine's started streams, as an annotation of engine querysets (engines.hooks)."""
    return Count("streams", filter=Q(streams__status=StreamStatus.STARTED))


def stream_with_latest_stats(stream: Stream, created: bool = False) -> Stream:
    """One stream with `latest_stats` (its newest snapshot as a dict, or None): one query, none
    for a stream created just now."""
    stream.latest_stats = None if created else (
        StatSnapshot.objects.filter(stream_id=stream.pk).newest_first()
        .values(*STAT_FIELDS).first())
    return stream


def with_latest_stats(streams: QuerySet) -> list[Stream]:
    """The streams, each with `latest_stats` (its newest snapshot as a dict, or None): two queries."""
    rows = list(streams.with_latest_snapshot_id())
    wanted = [stream.latest_snapshot_id for stream in rows if stream.latest_snapshot_id]
    snapshots = {row["id"]: row for row in
                 StatSnapshot.objects.filter(pk__in=wanted).values("id", *STAT_FIELDS)}
    for stream in rows:
        stream.latest_stats = snapshots.get(stream.latest_snapshot_id)
    return rows


def list_streams(status: str | None = None, container_id: str | None = None) -> list[Stream]:
    streams = Stream.objects.all()
    if status:
        streams = streams.filter(status=status)
    if container_id:
        streams = streams.filter(container_id=container_id)
    return with_latest_stats(streams)


def stats_history(stream: Stream, since: datetime | None = None) -> QuerySet:
    snapshots = stream.snapshots.order_by("ts", "pk")
    if since is not None:
        snapshots = snapshots.filter(ts__gte=since)
    return snapshots.values(*STAT_FIELDS)
