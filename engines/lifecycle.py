"""Ending engines and sizing the fleet: delete (stop and remove), forget (the container is gone),
and scale toward a demand between MIN_REPLICAS and the cap."""

from __future__ import annotations

from core.config import conf
from core.notify import notify

from . import docker_gateway
from .models import Engine, State
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
