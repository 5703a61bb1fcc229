"""The engines as proxies see them (GET /engines, `manage.py engines`)."""

from __future__ import annotations

from django.utils import timezone

from core import read_cache
from core.rendering import to_plain

from . import hooks
from .api import schemas
from .models import Engine, idle_seconds


def engine_states(engines) -> list[dict]:
    """Each engine's state with the ids of its started streams (the streams app answers)."""
    engines = list(engines)
    started = hooks.started_streams([engine.pk for engine in engines])
    now = timezone.now()
    return [engine.to_state(started.get(engine.pk, []), now) for engine in engines]


def _listed_snapshot() -> list[tuple[dict, object]]:
    """Each listed engine's state, ready to write, and the moment its idle time counts from;
    sorted by port (acexy breaks ties of its engine choice by list order)."""
    engines = list(Engine.objects.listed().order_by("host_http_port", "container_name"))
    states = to_plain(list[schemas.EngineState], engine_states(engines))
    return [(state, None if state["streams"] else engine.idle_from())
            for state, engine in zip(states, engines, strict=True)]


def listed_engine_states() -> list[dict]:
    """GET /engines: read from the database only when it changed (read_cache); the idle time
    is counted to this moment."""
    now = timezone.now()
    return [state if idle_from is None else {**state, "idle_seconds": idle_seconds(idle_from, now)}
            for state, idle_from in read_cache.reuse("engines", _listed_snapshot)]
