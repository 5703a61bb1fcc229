import time
from collections import defaultdict
from datetime import datetime
from typing import Literal

from django.db.models import Q
from django.utils import timezone
from ninja import Body, Router
from ninja.errors import HttpError
from pydantic_core import to_json

from engines import cleanup, docker_gateway, gate, health, services
from engines.models import Engine, Fleet, Health, State
from orchestrator_site import read_cache
from orchestrator_site.config import conf
from orchestrator_site.errors import Conflict, NotFound, Unavailable
from orchestrator_site.metrics import record_provision_duration
from orchestrator_site.rendering import json_answer, json_ready
from streams.models import Stream
from streams.services import with_latest_stats

from . import schemas

router = Router(tags=["engines"])


def _idle_seconds(idle_from, now) -> float:
    return round((now - idle_from).total_seconds(), 1)


def engine_states(engines) -> list[dict]:
    engines = list(engines)
    started = defaultdict(list)
    for engine_id, stream_id in Stream.objects.started().filter(
        engine_id__in=[engine.pk for engine in engines]
    ).values_list("engine_id", "id"):
        started[engine_id].append(stream_id)
    now = timezone.now()
    states = []
    for engine in engines:
        streams = started[engine.pk]
        idle_from = engine.idle_since or engine.first_seen
        states.append({
            "container_id": engine.container_id,
            "container_name": engine.container_name,
            "host": engine.host,
            "port": engine.port,
            "labels": engine.labels,
            "first_seen": engine.first_seen,
            "last_seen": engine.last_seen,
            "streams": streams,
            "health_status": engine.health_status,
            "last_health_check": engine.last_health_check,
            "last_stream_usage": engine.last_stream_usage,
            "forwarded": engine.forwarded,
            "active_streams": len(streams),
            "idle_seconds": 0.0 if streams else _idle_seconds(idle_from, now),
            "last_health_error": engine.last_health_error,
            "managed": engine.managed,
            "state": engine.state,
            "image": engine.image,
            "container_http_port": engine.container_http_port,
            "container_https_port": engine.container_https_port,
            "host_https_port": engine.host_https_port,
            "p2p_port": engine.p2p_port,
        })
    return states


def _listed_snapshot() -> list[tuple[dict, datetime | None]]:
    """Each listed engine's state, ready to write, and the moment its idle time counts from;
    sorted by port (acexy breaks ties of its engine choice by list order)."""
    engines = list(Engine.objects.listed().order_by("host_http_port", "container_name"))
    states = json_ready(list[schemas.EngineState], engine_states(engines))
    return [(state, None if state["streams"] else engine.idle_since or engine.first_seen)
            for state, engine in zip(states, engines, strict=True)]


def listed_engine_states() -> list[dict]:
    """GET /engines: read from the database only when it changed (read_cache); the idle time
    is counted to this moment."""
    now = timezone.now()
    return [state if idle_from is None else {**state, "idle_seconds": _idle_seconds(idle_from, now)}
            for state, idle_from in read_cache.reuse("engines", _listed_snapshot)]


def _find_engine(container_id: str) -> Engine:
    engine = Engine.objects.listed().filter(
        Q(container_id=container_id) | Q(container_name=container_id)).first()
    if engine is None:
        raise NotFound(f"no engine {container_id[:200]!r}")
    return engine


@router.post("/provision/acestream", response=schemas.ProvisionAcestreamOut)
def provision_acestream(request, body: schemas.ProvisionAcestreamIn = Body(None)):
    """Start an AceStream engine; answers as soon as its container runs (acexy waits 3 s)."""
    body = body or schemas.ProvisionAcestreamIn()
    began = time.monotonic()
    engine = services.provision_engine(services.EngineRequest(
        image=body.image, labels=body.labels, env=body.env, host_port=body.host_port,
    ))
    record_provision_duration(time.monotonic() - began)
    if body.wait_ready and (reason := health.wait_ready(engine)):
        raise HttpError(
            504, f"engine {engine.container_name} did not answer get_status within "
                 f"{conf().STARTUP_TIMEOUT_S} s: {reason}")
    return {
        "container_id": engine.container_id,
        "container_name": engine.container_name,
        "host_http_port": engine.host_http_port,
        "container_http_port": engine.container_http_port,
        "container_https_port": engine.container_https_port,
    }


@router.post("/provision", response=schemas.ProvisionGenericOut)
def provision_generic(request, body: schemas.ProvisionGenericIn):
    """Start a container of an allow-listed image (PROVISION_ALLOWED_IMAGES)."""
    allowed = conf().allowed_images
    if body.image not in allowed:
        raise HttpError(403, f"image {body.image!r} is not in PROVISION_ALLOWED_IMAGES")
    for port in body.ports:
        number, _, proto = port.partition("/")
        if not number.isdigit() or not 1 <= int(number) <= 65535 or proto not in ("tcp", "udp"):
            raise HttpError(422, f"port {port!r} must look like 40001/tcp")
    bind_ip = conf().PORT_BIND_IP
    view = services.provision_generic(
        image=body.image, env=body.env, labels=body.labels,
        published={port: (bind_ip, host) for port, host in body.ports.items()},
        name_prefix=body.name_prefix,
    )
    return {"container_id": view.id, "container_name": view.name}


@router.get("/engines", response=list[schemas.EngineState])
def list_engines(request):
    return json_answer(to_json(listed_engine_states()))


@router.get("/engines/{container_id}", response=schemas.EngineDetail)
def get_engine(request, container_id: str):
    engine = _find_engine(container_id)
    return {
        "engine": engine_states([engine])[0],
        "streams": with_latest_stats(Stream.objects.filter(engine=engine).order_by("-started_at")),
    }


@router.delete("/containers/{container_id}", response=schemas.DeletedOut)
def delete_container(request, container_id: str):
    engine = Engine.objects.filter(
        Q(container_id=container_id) | Q(container_name=container_id)).first()
    if engine is not None:
        services.delete_engine(engine)
        return {"deleted": engine.container_id or container_id}
    view = docker_gateway.get_container(container_id)
    if view is None or not services.is_ours(view):
        raise HttpError(404, f"no container {container_id!r} managed by this orchestrator")
    docker_gateway.remove_container(view.id)
    return {"deleted": view.id}


@router.get("/containers/{container_id}", response=schemas.ContainerOut)
def get_container(request, container_id: str):
    view = docker_gateway.get_container(container_id)
    if view is None or not services.is_ours(view):
        raise HttpError(404, f"no container {container_id!r} managed by this orchestrator")
    return view.as_api()


@router.get("/by-label", response=list[schemas.ContainerOut])
def by_label(request, key: str, value: str):
    return [
        view.as_api()
        for view in docker_gateway.list_containers(conf().CONTAINER_LABEL)
        if view.labels.get(key) == value
    ]


@router.post("/scale/{demand}", response=schemas.ScaledOut)
def scale(request, demand: int):
    if demand < 0:
        raise HttpError(422, "demand must be 0 or more")
    return {"scaled_to": services.scale_to(demand)}


# Docker takes a second or two per stats sample; asked at once, the whole answer takes that long.
STATS_DEADLINE_S = 5.0


def _sample_fields(sample: docker_gateway.ContainerStats) -> dict:
    return {name: getattr(sample, name) for name in schemas.EngineStatsOut.model_fields}


@router.get("/engines/stats/total", response=schemas.EngineStatsTotalOut)
def engines_stats_total(request):
    """CPU, memory, network and block I/O of every managed engine, summed (one `docker stats`
    sample each, asked at once; an engine that does not answer in time is listed as missing)."""
    engines = {engine.container_id: engine.container_name
               for engine in Engine.objects.managed().listed()}
    samples = docker_gateway.container_stats(list(engines), STATS_DEADLINE_S)
    answered = [sample for sample in samples.values() if sample is not None]
    total = {f"total_{name}": sum(getattr(sample, name) for sample in answered)
             for name in ("cpu_percent", "memory_usage", "network_rx_bytes", "network_tx_bytes",
                          "block_read_bytes", "block_write_bytes")}
    total["total_cpu_percent"] = round(total["total_cpu_percent"], 2)
    return {**total, "container_count": len(answered),
            "missing": sorted(engines[cid] for cid, sample in samples.items() if sample is None)}


@router.get("/engines/{container_id}/stats", response=schemas.EngineStatsOut)
def engine_stats(request, container_id: str):
    """One `docker stats` sample of an engine's container: CPU, memory, network, block I/O."""
    engine = _find_engine(container_id)
    if not engine.managed:
        raise Conflict(f"{engine.container_name} is an engine of a proxy's own: it has no container here")
    sample = docker_gateway.container_stats([engine.container_id], STATS_DEADLINE_S)[engine.container_id]
    if sample is None:
        raise Unavailable(f"Docker gave no stats for {engine.container_name} within {STATS_DEADLINE_S} s")
    return _sample_fields(sample)


@router.get("/health/status", response=schemas.HealthStatusOut)
def health_status(request):
    """The engines' health and what may stop new ones: the breaker on engine starts and the
    gate's blocking reason (if any)."""
    cfg = conf()
    engines = list(Engine.objects.listed().values_list("health_status", "health_failures", "managed",
                                                       "state"))
    fleet = Fleet.stored()
    blocked = gate.blocked(fleet)
    return {
        "total_engines": len(engines),
        "healthy_engines": sum(health == Health.HEALTHY for health, *_ in engines),
        "unhealthy_engines": sum(health == Health.UNHEALTHY for health, *_ in engines),
        "unknown_engines": sum(health == Health.UNKNOWN for health, *_ in engines),
        "marked_for_replacement": sum(
            managed and state == State.RUNNING and failures >= cfg.HEALTH_FAILURE_THRESHOLD
            for _, failures, managed, state in engines),
        "minimum_required": cfg.MIN_REPLICAS,
        "health_check_interval": cfg.HEALTH_CHECK_INTERVAL_S,
        "circuit_breakers": {"general": {
            "state": fleet.breaker_state(),
            "failure_count": fleet.start_failures,
            "failure_threshold": cfg.PROVISION_FAILURE_THRESHOLD,
            "last_failure_time": fleet.last_start_failure_at,
            "last_failure": fleet.last_start_failure,
            "last_success_time": fleet.last_start_success_at,
            "recovery_timeout": cfg.PROVISION_COOLDOWN_S,
            "opened_at": fleet.breaker_opened_at,
        }},
        "provisioning_blocked": blocked.details() if blocked else None,
    }


@router.post("/health/circuit-breaker/reset", response=schemas.BreakerResetOut)
def reset_circuit_breaker(request, operation_type: Literal["general", "all"] | None = None):
    """Close the breaker on engine starts by hand (it also closes by itself after a start that
    works). There is one breaker, `general`; `all` is accepted as the original's word for it."""
    gate.reset_breaker()
    return {"message": "Circuit breaker reset successfully",
            "circuit_breaker_state": Fleet.stored().breaker_state()}


@router.post("/gc", response=schemas.StatusOut)
def garbage_collect(request):
    cleanup.run_cleanup()
    return {"status": "ok"}
