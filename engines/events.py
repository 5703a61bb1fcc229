"""Docker events listener: notices an engine's death as Docker reports it (milliseconds), where
the original waited for its 10 s monitor tick. Runs as a thread of `manage.py worker`.

What Docker does here (dockerd 20.10, restart policy unless-stopped), checked by hand:
- a crash (exit 1): `die` with the container already `restarting`, then `start` ~0.2 s later, same
  container. The engine keeps its record: marked exited/unhealthy, its streams end, and `start`
  makes it running again (health unknown until checked).
- `docker kill` / `docker stop`: `die`, container `exited`, never restarted. The engine is forgotten
  at once (streams end, ports freed, gone from /engines); reconcile restores the replica count.
  The dead container itself is removed later by `sync.sync_with_docker` (see
  DEAD_CONTAINER_GRACE_S: a dockerd shutdown produces the very same events for containers it will
  start again).
- `docker rm -f`: `die` (container `removing` or already gone), then `destroy`: forgotten.
- dockerd restart: the stream ends silently; reconnecting resumes from the last event seen, and a
  `sync_with_docker` after every (re)connect repairs whatever the gap hid (Docker's event buffer
  does not survive its restart).
"""

from __future__ import annotations

import logging
import threading
import time

from django.db import IntegrityError, close_old_connections, connection
from django.db.models import F
from django.utils import timezone

from core.config import conf
from core.notify import notify

from . import docker_gateway, gate, health, lifecycle, sync
from .models import Engine, Health, State
from .signals import engine_gone

log = logging.getLogger(__name__)

RECONNECT_BACKOFF_S = 1.0


class _Cursor:
    """Position in the event stream, so a reconnect resumes where the last stream ended. Docker
    replays events at exactly `since`; the ones already handled there are skipped."""

    def __init__(self):
        self.since_ns: int | None = None
        self._seen_at_since: set[tuple] = set()

    def start_at(self, moment_ns: int) -> None:
        """Before any event was seen, a reconnect resumes from the first subscription."""
        if self.since_ns is None:
            self.since_ns = moment_ns

    def is_new(self, event: dict) -> bool:
        at = event.get("timeNano") or 0
        key = (at, event.get("id"), event.get("Action"))
        if self.since_ns is not None and (at < self.since_ns or key in self._seen_at_since):
            return False
        if at != self.since_ns:
            self.since_ns, self._seen_at_since = at, set()
        self._seen_at_since.add(key)
        return True


class _OpenStream:
    """The stream being read, closable from the thread that waits for `stop`."""

    def __init__(self):
        self._lock = threading.Lock()
        self._stream = None
        self.closed = False

    def set(self, stream) -> None:
        with self._lock:
            self._stream = stream
            if self.closed:
                stream.close()

    def close(self) -> None:
        with self._lock:
            self.closed = True
            if self._stream is not None:
                self._stream.close()


def _close_when_set(stop: threading.Event, current: _OpenStream) -> None:
    stop.wait()
    current.close()


def listen_for_events(stop: threading.Event, connected: threading.Event | None = None) -> None:
    """Follow our containers' events until `stop` is set; reconnect whenever the stream ends.
    `connected` (for tests and the benchmark) is set after each subscription and repair."""
    current = _OpenStream()
    # Reading the stream blocks until Docker sends something: closing it is what ends the read.
    threading.Thread(target=_close_when_set, args=(stop, current), daemon=True,
                     name="docker-events-closer").start()
    cursor = _Cursor()
    while not stop.is_set():
        close_old_connections()
        subscribed_ns = time.time_ns()
        # A ping (bounded by DOCKER_TIMEOUT_S) first: the events request has no timeout, and a
        # daemon still starting up could hold it, and with it shutdown, for long.
        answered = docker_gateway.ping()
        # Told on every reconnection, not only when this loop's own view changed: a web process
        # may have recorded the outage while this loop, between two pings, never saw it.
        _tell_gate(answered)
        if not answered:
            stop.wait(RECONNECT_BACKOFF_S)
            continue
        try:
            stream = docker_gateway.event_stream(cursor.since_ns, conf().CONTAINER_LABEL)
        except docker_gateway.DockerUnavailable:
            stop.wait(RECONNECT_BACKOFF_S)
            continue
        current.set(stream)
        cursor.start_at(subscribed_ns)
        try:
            # Subscribed first, then repaired: a change during the repair still arrives as an event.
            _repair()
            log.info("following Docker events of %s", conf().CONTAINER_LABEL)
            if connected is not None:
                connected.set()
            for event in stream:
                if cursor.is_new(event):
                    _handle_safely(event)
        except Exception:  # noqa: BLE001 - a broken stream must not end the listener
            log.warning("Docker events stream failed; reconnecting", exc_info=True)
        finally:
            stream.close()
        if not stop.is_set():
            log.info("Docker events stream ended; reconnecting")
            stop.wait(0.1)
    connection.close()


def _tell_gate(reachable: bool) -> None:
    try:
        gate.record_docker(reachable, "" if reachable else "the Docker daemon does not answer a ping")
    except Exception:  # noqa: BLE001 - the database may be briefly unavailable
        log.warning("could not record whether Docker answers", exc_info=True)


def _repair() -> None:
    try:
        summary = sync.sync_with_docker()
    except docker_gateway.DockerUnavailable:
        raise
    except Exception:  # noqa: BLE001 - the stream itself is still worth reading
        log.exception("sync with Docker failed")
        return
    if any(summary.values()):
        log.info("synced with Docker: %s", summary)


def _handle_safely(event: dict) -> None:
    try:
        handle_event(event)
    except docker_gateway.DockerUnavailable:
        raise
    except Exception:  # noqa: BLE001 - one bad event (or a database hiccup) must not stop the rest
        log.exception("could not handle Docker event %s %s", event.get("Action"), event.get("id"))
        close_old_connections()


def handle_event(event: dict) -> None:
    action = event.get("Action") or event.get("status") or ""
    container_id = event.get("id") or ""
    if action == "die":
        exit_code = (event.get("Actor") or {}).get("Attributes", {}).get("exitCode", "?")
        on_die(container_id, exit_code)
    elif action == "destroy":
        on_destroy(container_id)
    elif action == "start":
        on_start(container_id)


def _engine(container_id: str) -> Engine | None:
    return Engine.objects.managed().filter(container_id=container_id).first()


def on_die(container_id: str, exit_code: str) -> None:
    """Unusable at once; then kept if Docker restarts it, else forgotten."""
    reason = f"container died, exit code {exit_code}"
    # First a single UPDATE, so no proxy is handed this engine while Docker is asked about it.
    if not Engine.objects.managed().filter(container_id=container_id).update(
        state=State.EXITED, health_status=Health.UNHEALTHY, last_health_error=reason,
        health_failures=F("health_failures") + 1, last_seen=timezone.now(),
    ):
        return  # not ours, or a provision that failed before its record got the id
    engine = _engine(container_id)
    if engine is None:
        return
    view = docker_gateway.get_container(container_id)
    if view is not None and (view.restarting or view.running):
        log.warning("engine %s died (exit code %s); Docker is restarting it",
                    engine.container_name, exit_code)
        engine_gone.send(sender=Engine, engine=engine, reason="engine_died")
        notify("engine", action="died", engine=engine.container_name)
    else:
        log.warning("engine %s died (exit code %s) and stays down: forgotten",
                    engine.container_name, exit_code)
        lifecycle.forget_engine(engine, "engine_died")


def on_destroy(container_id: str) -> None:
    engine = _engine(container_id)
    if engine is not None:
        log.warning("engine %s was removed behind our back: forgotten", engine.container_name)
        lifecycle.forget_engine(engine, "engine_died")


def on_start(container_id: str) -> None:
    engine = _engine(container_id)
    if engine is not None:
        # Back through the restart policy. Its failure count stays: a death counts as a failed
        # check, so one that keeps crashing is replaced like one that keeps hanging.
        if engine.state != State.RUNNING:
            Engine.objects.filter(pk=engine.pk).update(
                state=State.RUNNING, health_status=Health.UNKNOWN, last_seen=timezone.now())
            notify("engine", action="started", engine=engine.container_name)
            health.check_soon(engine)
        return
    view = docker_gateway.get_container(container_id)
    if view is None or not view.running:
        return
    if Engine.objects.filter(container_name=view.name).exists():
        return  # our own provision in progress: it records the container itself
    try:
        engine = sync.adopt(view)
    except IntegrityError:
        return  # adopted meanwhile by a sync
    health.check_soon(engine)
