"""Reconcile desired against observed state: records made to match Docker (adopt our labelled
containers, follow their states, forget the vanished), then MIN_REPLICAS restored. Idempotent,
so a missed Docker event or a restart is healed by the next pass."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.config import conf
from core.models import Lease
from core.notify import notify

from . import docker_gateway, gate, ports
from .docker_gateway import docker_time
from .gate import ProvisioningBlocked
from .lifecycle import forget_engine
from .models import Engine, Health, PortReservation, State
from .provisioning import provision_engine

log = logging.getLogger(__name__)

# A reservation whose provision never finished (the process died mid-start) is dropped after this.
STALE_RESERVATION_S = 120
# Longest a reconcile pass may hold its lease (provisioning up to MAX_REPLICAS engines).
RECONCILE_LEASE_S = 300


def _ports_from_labels(labels: dict[str, str]) -> dict[str, int | None]:
    def number(key):
        try:
            return int(labels[key])
        except (KeyError, ValueError):
            return None

    return {
        "host_http_port": number("host.http_port"),
        "host_https_port": number("host.https_port"),
        "container_http_port": number("acestream.http_port"),
        "container_https_port": number("acestream.https_port"),
        "p2p_port": number("acestream.p2p_port"),
    }


def adopt(view: docker_gateway.ContainerView) -> Engine:
    """Take over a container with our label that the database does not know (after a restart,
    or started by hand): its ports come from its labels and are reserved again."""
    found = _ports_from_labels(view.labels)
    parent = view.network_mode.removeprefix("container:") if view.network_mode.startswith(
        "container:") else ""
    now = timezone.now()
    # The container's creation, not the adoption, is when the engine was first seen: it keeps
    # uptime and the VPN's "started before Gluetun" test right across orchestrator restarts.
    created = min(docker_time(view.created) or now, now)
    with transaction.atomic():
        engine = Engine.objects.create(
            container_id=view.id,
            container_name=view.name,
            image=view.image,
            host=conf().ENGINE_HOST,
            labels=view.labels,
            managed=True,
            state=State.RUNNING if view.running else State.EXITED,
            network_parent_id=parent,
            first_seen=created,
            idle_since=now,
            **found,
        )
        wanted = {}
        if found["host_http_port"]:
            wanted[found["host_http_port"]] = PortReservation.Purpose.HOST_HTTP
        if found["container_https_port"]:
            wanted[found["container_https_port"]] = PortReservation.Purpose.CONTAINER_HTTPS
        conflicts = ports.reclaim(engine, wanted)
    if conflicts:
        log.warning("adopted %s but ports %s are reserved by another engine", view.name, conflicts)
    log.info("adopted engine %s (%s)", view.name, view.id[:12])
    notify("engine", action="added", engine=view.name)
    return engine


def _apply_view(engine: Engine, view: docker_gateway.ContainerView) -> None:
    state = State.RUNNING if view.running else State.EXITED
    changes = {"last_seen": timezone.now()}
    if engine.state != state:
        changes["state"] = state
        if state == State.RUNNING:  # back through its restart policy: to be checked again
            changes["health_status"] = Health.UNKNOWN
    Engine.objects.filter(pk=engine.pk).update(**changes)


# Docker statuses of a container that is not running and that Docker will not start again by
# itself (one its restart policy brings back is `restarting` meanwhile).
DEAD_STATUSES = ("exited", "dead", "created")
# A dead container is removed only once it has been dead this long. Stopping dockerd stops every
# container exactly as `docker kill` does (same events, same `exited` status) and brings the
# unless-stopped ones back when it starts again: those must survive. The daemon stops answering
# within seconds of stopping them, so this is far beyond any shutdown.
DEAD_CONTAINER_GRACE_S = 60


def dead_long_enough(view: docker_gateway.ContainerView, now: datetime | None = None) -> bool:
    if view.status not in DEAD_STATUSES:
        return False
    # A container never started has the zero FinishedAt: its creation time counts instead.
    moments = [t for t in (docker_time(view.finished_at), docker_time(view.created)) if t]
    since = max(moments) if moments else None
    now = now or timezone.now()
    return since is None or (now - since).total_seconds() >= DEAD_CONTAINER_GRACE_S


def sync_with_docker() -> dict[str, int]:
    """Make the records match Docker: adopt unknown live containers of our label, update states,
    forget engines whose containers are gone or dead for good, and remove containers dead for
    longer than DEAD_CONTAINER_GRACE_S. Never stops a live container, so running it at every
    start of the orchestrator keeps the fleet as it is."""
    cfg = conf()
    # The records are read before Docker is asked: an engine recorded by then had its container
    # before the listing, and one whose provision finishes meanwhile is still among the
    # starting names. Read the other way round, a fresh engine would look vanished.
    starting_names = set(
        Engine.objects.filter(state=State.STARTING).values_list("container_name", flat=True)
    )
    known = {engine.container_id: engine for engine in Engine.objects.managed()
             if engine.container_id}
    views = {view.id: view for view in docker_gateway.list_containers(cfg.CONTAINER_LABEL)}
    summary = {"adopted": 0, "forgotten": 0, "removed_dead": 0}
    for container_id, engine in known.items():
        view = views.get(container_id)
        if view is None or view.status in DEAD_STATUSES:
            forget_engine(engine, "engine_died")
            summary["forgotten"] += 1
        else:
            _apply_view(engine, view)
    now = timezone.now()
    for container_id, view in views.items():
        if view.status in DEAD_STATUSES:
            if view.name not in starting_names and dead_long_enough(view, now):
                docker_gateway.remove_container(container_id)
                summary["removed_dead"] += 1
        elif container_id not in known and view.name not in starting_names:
            try:
                adopt(view)
                summary["adopted"] += 1
            except IntegrityError:
                log.warning("could not adopt %s: a record with that name exists", view.name)
    stale = timezone.now() - timedelta(seconds=STALE_RESERVATION_S)
    Engine.objects.filter(state=State.STARTING, first_seen__lt=stale).delete()
    return summary




def reconcile() -> dict[str, object]:
    """One pass of the control loop: observe Docker, then restore the replica target.

    Passes run one at a time across processes (the reconcile job, the health job replacing an
    engine): two concurrent passes would both count the same shortfall and overshoot it.
    Engines being started right now (by a proxy's provision) count toward the target, so a
    pass beside them does not start more than MIN_REPLICAS asks."""
    with Lease.held("reconcile", RECONCILE_LEASE_S, wait=True):
        try:
            summary: dict[str, object] = sync_with_docker()
        except docker_gateway.DockerUnavailable as exc:
            gate.record_docker(False, str(exc))
            raise
        gate.record_docker(True)
        gate.refresh_image()
        cfg = conf()
        running = Engine.objects.managed().filter(state__in=(State.RUNNING, State.STARTING)).count()
        summary["provisioned"] = 0
        try:
            for _ in range(max(0, cfg.MIN_REPLICAS - running)):
                provision_engine()
                summary["provisioned"] += 1
        except ProvisioningBlocked as exc:
            # Not a failure of this pass: the gate logged the reason once, when it arose, and
            # the next pass tries again (the VPN monitor recreates engines once the tunnel is up).
            summary["blocked"] = exc.code
    return summary
