"""Ending engines and sizing the fleet: delete (stop and remove), restart, forget (the container
is gone), and scale toward a demand between MIN_REPLICAS and the cap."""

from __future__ import annotations

from django.utils import timezone

from core.config import conf
from core.errors import Conflict, NotFound
from core.notify import notify

from . import docker_gateway, health
from .models import Engine, Health, State
from .provisioning import provision_engine
from .signals import engine_gone


def delete_engine(engine: Engine, reason: str = "engine_deleted") -> None:
    """End its streams, stop and remove the container, then forget the engine and free its ports.

    Streams end first, with `reason`: the events listener (another process) sees the container
    die while it is being removed and would otherwise end them first as `engine_died`."""
    engine_gone.send(sender=Engine, engine=engine, reason=reason)
    if engine.container_id and engine.managed:
        docker_gateway.remove_container(engine.container_id)
    _drop(engine)


def forget_engine(engine: Engine, reason: str) -> None:
    """Drop the record of an engine whose container is gone or dead for good; its streams end
    with `reason` and its ports are freed (they cascade with the record)."""
    engine_gone.send(sender=Engine, engine=engine, reason=reason)
    _drop(engine)


def _drop(engine: Engine) -> None:
    Engine.objects.filter(pk=engine.pk).delete()
    notify("engine", action="removed", engine=engine.container_name)


def restart_engine(engine: Engine) -> None:
    """Docker's restart of the container. Its streams end first (`engine_restarted`: a player
    cannot survive it), and it is handed to no proxy until it answers get_status again."""
    if not engine.managed or not engine.container_id:
        raise Conflict(f"{engine.container_name} is an engine of a proxy's own: it has no "
                       "container here to restart")
    engine_gone.send(sender=Engine, engine=engine, reason="engine_restarted")
    Engine.objects.filter(pk=engine.pk).update(health_status=Health.UNKNOWN,
                                               last_health_error="restarting",
                                               last_seen=timezone.now())
    if not docker_gateway.restart_container(engine.container_id):
        forget_engine(engine, "engine_died")
        raise NotFound(f"the container of {engine.container_name} is gone: forgotten")
    Engine.objects.filter(pk=engine.pk).update(state=State.RUNNING, idle_since=timezone.now())
    notify("engine", action="restarted", engine=engine.container_name)
    health.check_soon(engine)

def scale_to(demand: int) -> int:
    """Provision or remove engines toward `demand`, clamped to the replica bounds; engines with a
    started stream are never removed."""
    cfg = conf()
    target = max(cfg.MIN_REPLICAS, min(demand, cfg.replica_cap))
    current = Engine.objects.managed().exclude(state=State.STARTING).count()
    for _ in range(target - current):
        provision_engine()
    if current > target:
        for engine in list(Engine.objects.managed().idle()[: current - target]):
            delete_engine(engine, "scaled_down")
    return target
