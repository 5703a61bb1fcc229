"""Engines' health and resources, for operators: the engines' health counts and the breaker on
engine starts (GET /health/status, POST /health/circuit-breaker/reset), and `docker stats` of
engines (GET /engines/{id}/stats, /engines/stats/total)."""

from typing import Literal

from ninja import Router

from core.config import conf
from core.errors import Conflict, Unavailable
from engines import docker_gateway, gate
from engines.models import Engine, Fleet, Health, State

from . import schemas
from .router import find_engine

router = Router(tags=["engines"])


# Docker takes a second or two per stats sample; asked at once, the whole answer takes that long.
STATS_DEADLINE_S = 5.0


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


@router.get("/engines/{container_id}/stats", response=docker_gateway.ContainerStats)
def engine_stats(request, container_id: str):
    """One `docker stats` sample of an engine's container: CPU, memory, network, block I/O."""
    engine = find_engine(container_id)
    if not engine.managed:
        raise Conflict(f"{engine.container_name} is an engine of a proxy's own: it has no container here")
    sample = docker_gateway.container_stats([engine.container_id], STATS_DEADLINE_S)[engine.container_id]
    if sample is None:
        raise Unavailable(f"Docker gave no stats for {engine.container_name} within {STATS_DEADLINE_S} s")
    return sample


@router.get("/health/status", response=schemas.HealthStatusOut)
def health_status(request):
    """The engines' health and what may stop new ones: the breaker on engine starts and the
    gate's blocking reason (if any)."""
    cfg = conf()
    engines = list(Engine.objects.listed().values_list("health_status", "health_failures", "managed",
                                                       "state"))
    observed = gate.observe()
    fleet = observed.fleet
    blocked = gate.decide(observed)
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
