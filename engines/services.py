"""Engine lifecycle: provision, delete, adopt, reconcile, scale.

Transactions stay short and never span a Docker call: a reservation is committed first, the
container is started outside any transaction, and the record is then completed or rolled back.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from orchestrator_site.config import conf
from orchestrator_site.errors import Conflict, InvalidInput
from orchestrator_site.models import Counter, Lease
from orchestrator_site.notify import notify

from . import docker_gateway, gate, health, hooks, ports
from .docker_gateway import docker_time
from .gate import ProvisioningBlocked
from .models import Engine, Fleet, Health, PortReservation, State
from .signals import engine_gone

log = logging.getLogger(__name__)

# A reservation whose provision never finished (the process died mid-start) is dropped after this.
STALE_RESERVATION_S = 120
# Longest a reconcile pass may hold its lease (provisioning up to MAX_REPLICAS engines).
RECONCILE_LEASE_S = 300
_CONF_PORT = re.compile(r"^--(http|https)-port=(\d+)\s*$", re.MULTILINE)


class ProvisionConflict(Conflict):
    pass


class InvalidEngineRequest(InvalidInput):
    """Ports asked for that cannot work where the engine would run."""


@dataclass
class EngineRequest:
    image: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    host_port: int | None = None


def _conf_ports(env: dict[str, str]) -> dict[str, int]:
    """The `--http-port=`/`--https-port=` lines of a CONF the caller supplied."""
    return {kind: int(port) for kind, port in _CONF_PORT.findall(env.get("CONF", ""))}


def check_requested_ports(request: EngineRequest, behind_vpn: bool) -> None:
    """Behind the VPN only PORT_RANGE_HOST is published (on Gluetun), and an engine's container
    HTTP port is its host port: anything else would start an engine nobody can reach."""
    given = _conf_ports(request.env)
    for kind, port in given.items():
        if not 1 <= port <= 65535:
            raise InvalidEngineRequest(f"CONF --{kind}-port={port} is not a port number")
    if not behind_vpn:
        return
    published = conf().PORT_RANGE_HOST
    asked = {"host_port": request.host_port, "CONF --http-port": given.get("http"),
             "CONF --https-port": given.get("https")}
    for what, port in asked.items():
        if port is not None and port not in published:
            raise InvalidEngineRequest(
                f"{what}={port} is outside PORT_RANGE_HOST={published}, the only ports "
                "published on the VPN container")
    if request.host_port is not None and given.get("http", request.host_port) != request.host_port:
        raise InvalidEngineRequest(
            "behind the VPN the container's HTTP port is its host port: host_port and "
            "CONF --http-port differ")


def _next_name(skip: set[str]) -> str:
    prefix = conf().ENGINE_NAME_PREFIX
    used = set(Engine.objects.filter(container_name__startswith=f"{prefix}-")
               .values_list("container_name", flat=True)) | skip
    number = 1
    while f"{prefix}-{number}" in used:
        number += 1
    return f"{prefix}-{number}"


def _reserve(request: EngineRequest, skip_names: set[str], where) -> Engine:
    """Within one write transaction holding the fleet lock (so on every database no two
    processes pick the same name or port, or both take the last place under the cap): ask the
    breaker and the cap, pick a name and ports, record the engine."""
    cfg = conf()
    with transaction.atomic():
        gate.claim_start(Fleet.locked())
        engine = Engine.objects.create(
            container_name=_next_name(skip_names),
            image=request.image or cfg.TARGET_IMAGE,
            host=cfg.ENGINE_HOST,
            managed=True,
            state=State.STARTING,
            network_parent_id=where.parent_id if where else "",
        )
        given = _conf_ports(request.env)
        try:
            http_range = cfg.PORT_RANGE_HOST
            fixed_host_port = request.host_port or (given.get("http") if where else None)
            if fixed_host_port is not None:
                engine.host_http_port = ports.reserve(
                    engine, fixed_host_port, PortReservation.Purpose.HOST_HTTP)
            else:
                engine.host_http_port = ports.reserve_free(
                    engine, http_range, PortReservation.Purpose.HOST_HTTP)
            engine.container_http_port = given.get("http", engine.host_http_port)
            if engine.container_http_port != engine.host_http_port:
                ports.reserve(engine, engine.container_http_port,
                              PortReservation.Purpose.CONTAINER_HTTP)
            # Behind the VPN both ports are published on Gluetun, so both come from its range.
            https_range = http_range if where else cfg.ACE_HTTPS_RANGE
            if "https" in given:
                engine.container_https_port = ports.reserve(
                    engine, given["https"], PortReservation.Purpose.CONTAINER_HTTPS)
            else:
                engine.container_https_port = ports.reserve_free(
                    engine, https_range, PortReservation.Purpose.CONTAINER_HTTPS)
            if where or cfg.ACE_MAP_HTTPS:
                engine.host_https_port = engine.container_https_port
        except ports.PortTaken as exc:
            raise ProvisionConflict(str(exc)) from None
        except ports.PortsExhausted as exc:
            raise ProvisioningBlocked(gate.at_capacity(
                "no free port left for another engine", private=str(exc))) from None
        if where and where.forwarded_port and not Engine.objects.filter(
            p2p_port=where.forwarded_port
        ).exists():
            engine.p2p_port = where.forwarded_port
        engine.save()
    return engine


def _container_spec(engine: Engine, request: EngineRequest) -> tuple[dict, dict]:
    cfg = conf()
    env = dict(request.env)
    env.setdefault(
        "CONF",
        f"--http-port={engine.container_http_port}\n"
        f"--https-port={engine.container_https_port}\n--bind-all",
    )
    env.update({
        "HTTP_PORT": str(engine.container_http_port),
        "HTTPS_PORT": str(engine.container_https_port),
        "BIND_ALL": "true",
    })
    if engine.p2p_port:
        env["P2P_PORT"] = str(engine.p2p_port)
    labels = dict(request.labels)
    labels.update({
        cfg.label_key: cfg.label_value,
        "acestream.http_port": str(engine.container_http_port),
        "acestream.https_port": str(engine.container_https_port),
        "host.http_port": str(engine.host_http_port),
    })
    if engine.host_https_port:
        labels["host.https_port"] = str(engine.host_https_port)
    if engine.p2p_port:
        labels["acestream.p2p_port"] = str(engine.p2p_port)
    return env, labels


def _published_ports(engine: Engine) -> dict:
    bind_ip = conf().PORT_BIND_IP
    published = {f"{engine.container_http_port}/tcp": (bind_ip, engine.host_http_port)}
    if engine.host_https_port:
        published[f"{engine.container_https_port}/tcp"] = (bind_ip, engine.host_https_port)
    return published


def _release(engine: Engine) -> None:
    Engine.objects.filter(pk=engine.pk).delete()


def provision_engine(request: EngineRequest | None = None) -> Engine:
    """Start one engine and return its record as soon as Docker reports the container running."""
    request = request or EngineRequest()
    gate.admit(request.image or conf().TARGET_IMAGE)
    where = hooks.placement()
    check_requested_ports(request, behind_vpn=where is not None)
    skip_names: set[str] = set()
    for _attempt in range(8):
        engine = _reserve(request, skip_names, where)
        env, labels = _container_spec(engine, request)
        try:
            view = docker_gateway.run_container(
                image=engine.image,
                name=engine.container_name,
                env=env,
                labels=labels,
                ports=_published_ports(engine),
                network_mode=where.network_mode if where else None,
                network=conf().DOCKER_NETWORK,
            )
        except docker_gateway.NameConflict:
            _release(engine)
            skip_names.add(engine.container_name)
            continue
        except docker_gateway.PortInUse as exc:
            _release(engine)
            if exc.port is None or request.host_port is not None:
                Counter.add("orch_provision_failures_total", reason="port_in_use")
                raise ProvisionConflict(str(exc)) from None
            ports.block(exc.port)
            continue
        except docker_gateway.DockerUnavailable as exc:
            _release(engine)
            Counter.add("orch_provision_failures_total", reason="docker_unavailable")
            raise gate.blocked_by(exc) from exc
        except Exception as exc:
            _release(engine)
            Counter.add("orch_provision_failures_total", reason=_failure_reason(exc))
            if isinstance(exc, docker_gateway.ContainerStartFailed):
                gate.record_start_failure(str(exc))
            raise
        _mark_started(engine, view)
        # Whoever asked (API, reconcile, scale, VPN, admin, command), it leaves `unknown` soon;
        # that first check also tells the breaker whether the start worked.
        health.check_soon(engine, first_start=True)
        Counter.add("orch_provision_total", kind="acestream")
        notify("engine", action="added", engine=engine.container_name)
        return engine
    raise ProvisionConflict("no free name or port after several attempts")


def _failure_reason(exc: Exception) -> str:
    return "image_unavailable" if isinstance(exc, docker_gateway.ImageUnavailable) else "start_failed"


def _mark_started(engine: Engine, view: docker_gateway.ContainerView) -> None:
    now = timezone.now()
    engine.container_id = view.id
    engine.state = State.RUNNING if view.running else State.EXITED
    engine.labels = view.labels
    engine.first_seen = engine.last_seen = now
    engine.idle_since = now
    engine.save()


GENERIC_LABEL = "orchestrator.generic"


def is_ours(view: docker_gateway.ContainerView) -> bool:
    """An engine of this orchestrator, or a container it started through `POST /provision`."""
    cfg = conf()
    return (view.labels.get(cfg.label_key) == cfg.label_value
            or view.labels.get(GENERIC_LABEL) == cfg.CONTAINER_LABEL)


def provision_generic(image: str, env: dict, labels: dict, published: dict,
                      name_prefix: str) -> docker_gateway.ContainerView:
    """`POST /provision`: an allow-listed image, outside the engine fleet."""
    labels = {**labels, GENERIC_LABEL: conf().CONTAINER_LABEL}
    labels.pop(conf().label_key, None)
    docker_gateway.ensure_image(image)
    for number in range(1, 1000):
        name = f"{name_prefix}-{number}"
        if docker_gateway.get_container(name) is not None:
            continue
        try:
            view = docker_gateway.run_container(
                image=image, name=name, env=env, labels=labels, ports=published,
                network=conf().DOCKER_NETWORK,
            )
        except docker_gateway.NameConflict:
            continue
        Counter.add("orch_provision_total", kind="generic")
        return view
    raise ProvisionConflict(f"no free container name with prefix {name_prefix!r}")


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


def running_engines():
    return Engine.objects.managed().filter(state=State.RUNNING)


def idle_engines():
    """Managed engines with no started stream, longest idle first."""
    return Engine.objects.managed().exclude(streams__status="started").order_by(
        "last_stream_usage", "first_seen"
    )


def scale_to(demand: int) -> int:
    """Provision or remove engines toward `demand`, clamped to the replica bounds; engines with a
    started stream are never removed."""
    cfg = conf()
    target = max(cfg.MIN_REPLICAS, min(demand, cfg.replica_cap))
    current = Engine.objects.managed().exclude(state=State.STARTING).count()
    for _ in range(target - current):
        provision_engine()
    if current > target:
        for engine in list(idle_engines()[: current - target]):
            delete_engine(engine, "scaled_down")
    return target


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
        running = running_engines().count() + Engine.objects.managed().filter(
            state=State.STARTING).count()
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
