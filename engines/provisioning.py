"""Starting engines: check what was asked, reserve a name and ports under the fleet lock, start
the container, complete the record; and the generic containers of `POST /provision`.

Transactions stay short and never span a Docker call: a reservation is committed first, the
container is started outside any transaction, and the record is then completed or rolled back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from core.config import conf
from core.errors import Conflict, InvalidInput
from core.models import Counter
from core.notify import notify

from . import docker_gateway, gate, health, hooks, ports
from .gate import ProvisioningBlocked
from .models import Engine, Fleet, PortReservation, State

_CONF_PORT = re.compile(r"^--(http|https)-port=(\d+)\s*$", re.MULTILINE)
PROVISION_DURATION = "orch_provision_duration_seconds"
# Starting a container takes about a second; pulling an image or a loaded daemon takes longer.
PROVISION_BUCKETS = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0)


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


def record_provision_duration(seconds: float) -> None:
    """One successful provision into the duration histogram that /metrics exports."""
    Counter.observe(PROVISION_DURATION, seconds, PROVISION_BUCKETS)
