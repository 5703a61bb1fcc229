"""The one module that talks to Docker. Everything else asks it in the project's own terms.

Every call raises `DockerUnavailable` when the daemon cannot be reached, so callers (and the API's
exception handler, which answers 503) have a single failure to deal with.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import datetime

import docker
import docker.errors
import requests.exceptions

from core.config import conf
from core.errors import OrchestratorError
from core.request_slots import waiting_elsewhere

log = logging.getLogger(__name__)


class DockerError(OrchestratorError):
    """Base of the gateway's errors; `str()` is a sentence fit for an API answer."""

    status = 502
    code = "docker_error"


class DockerUnavailable(DockerError):
    status = 503
    code = "docker_unreachable"


class ImageUnavailable(DockerError):
    """`str()` is the whole sentence (a caller's own image gets it as its 422); `docker_said` is
    Docker's part alone, for a message that says the rest in its own words."""

    status = 422
    code = "image_unavailable"

    def __init__(self, message: str, docker_said: str):
        super().__init__(message)
        self.docker_said = docker_said


class NameConflict(DockerError):
    status = 409
    code = "name_conflict"


class PortInUse(DockerError):
    status = 409
    code = "port_in_use"

    def __init__(self, message: str, port: int | None):
        super().__init__(message)
        self.port = port


class ContainerStartFailed(DockerError):
    status = 502
    code = "start_failed"


@dataclass(frozen=True)
class ContainerView:
    """What the orchestrator needs to know of one container, read from its inspect data."""

    id: str
    name: str
    image: str
    created: str
    status: str
    labels: dict[str, str]
    ports: dict[str, list[dict[str, str]]]
    network_mode: str = ""
    started_at: str = ""
    finished_at: str = ""  # when it last stopped ("0001-01-01T00:00:00Z" if it never did)

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def restarting(self) -> bool:
        return self.status == "restarting"

    def as_api(self) -> dict:
        return {name: getattr(self, name)
                for name in ("id", "name", "image", "created", "status", "labels", "ports")}


def docker_time(text: str) -> datetime | None:
    """Docker's RFC 3339 time (nanoseconds allowed); its zero time ("never") and junk are None."""
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return moment if moment.year > 1 else None


_client: docker.DockerClient | None = None
_client_lock = threading.Lock()
_CONNECTION_ERRORS = (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                      ConnectionError, FileNotFoundError)
_PORT_IN_USE = re.compile(
    r"(?:port is already allocated|address already in use|bind for [\d.:\[\]]*?:(\d+) failed)",
    re.IGNORECASE,
)
_PORT_NUMBER = re.compile(r":(\d+)(?:\s|:|$| failed)")


def client() -> docker.DockerClient:
    """The shared client, created on first use: creating it asks the daemon its API version,
    so it must not happen at import time or while Docker is down."""
    global _client
    with _client_lock:
        if _client is None:
            try:
                _client = docker.from_env(timeout=conf().DOCKER_TIMEOUT_S, max_pool_size=64)
            except docker.errors.DockerException as exc:
                raise DockerUnavailable(f"Docker unavailable: {exc}") from exc
        return _client


def _call(fn, *args, **kwargs):
    try:
        with waiting_elsewhere():
            return fn(*args, **kwargs)
    except _CONNECTION_ERRORS as exc:
        raise DockerUnavailable(f"Docker unavailable: {exc.__class__.__name__}") from exc
    except docker.errors.APIError as exc:
        if exc.status_code is not None and exc.status_code >= 500 and _is_daemon_gone(exc):
            raise DockerUnavailable(f"Docker unavailable: {exc.explanation}") from exc
        raise


def _is_daemon_gone(exc: docker.errors.APIError) -> bool:
    text = str(exc.explanation or "").lower()
    return "connection refused" in text or "cannot connect to the docker daemon" in text


def ping() -> bool:
    try:
        return bool(_call(client().ping))
    except DockerError:
        return False


def _view(container) -> ContainerView:
    attrs = container.attrs
    state = attrs.get("State", {})
    config = attrs.get("Config", {})
    bound = {
        port: bindings
        for port, bindings in (attrs.get("NetworkSettings", {}).get("Ports") or {}).items()
        if bindings
    }
    return ContainerView(
        id=container.id,
        name=attrs.get("Name", "").lstrip("/"),
        image=config.get("Image", ""),
        created=attrs.get("Created", ""),
        status=state.get("Status", "unknown"),
        labels=config.get("Labels") or {},
        ports=bound,
        network_mode=attrs.get("HostConfig", {}).get("NetworkMode", ""),
        started_at=state.get("StartedAt", ""),
        finished_at=state.get("FinishedAt", ""),
    )


def get_container(ref: str) -> ContainerView | None:
    """By full id, an id prefix of 12 or more characters, or exact name; None otherwise. Short
    prefixes are refused: "0" would otherwise name whichever container Docker picks."""
    try:
        view = _view(_call(client().containers.get, ref))
    except docker.errors.NotFound:
        return None
    except docker.errors.APIError as exc:
        # Unparsable refs (400) and ambiguous prefixes (500 "multiple IDs found") name nothing.
        if exc.status_code == 400 or "multiple" in str(exc.explanation or "").lower():
            return None
        raise
    if view.name == ref or (len(ref) >= 12 and view.id.startswith(ref)):
        return view
    return None


def list_containers(label: str) -> list[ContainerView]:
    """Every container carrying the label (`key=value`), running or not."""
    found = _call(client().containers.list, all=True, filters={"label": label})
    return [_view(container) for container in found]


# Images seen present recently: provisioning skips asking again. One removed meanwhile makes
# `containers.create` fail with ImageNotFound, which is reported the same way.
_IMAGE_SEEN_FOR_S = 60
_images_seen: dict[str, float] = {}


def image_present(image: str) -> bool:
    """Whether Docker has the image locally (an inspect, never a pull)."""
    if time.monotonic() - _images_seen.get(image, -_IMAGE_SEEN_FOR_S) < _IMAGE_SEEN_FOR_S:
        return True
    try:
        _call(client().images.get, image)
    except docker.errors.ImageNotFound:
        return False
    except docker.errors.APIError as exc:
        raise ImageUnavailable(f"image {image!r} is not valid: {exc.explanation}",
                               exc.explanation) from exc
    _images_seen[image] = time.monotonic()
    return True


def ensure_image(image: str) -> bool:
    """Pull the image unless Docker already has it; True when it was pulled. Raises
    `ImageUnavailable` when neither works."""
    if image_present(image):
        return False
    try:
        _call(client().images.pull, image)
    except (docker.errors.APIError, DockerUnavailable) as exc:
        # Docker answered (an APIError): a registry refusing the connection is no Docker outage.
        cause = exc if isinstance(exc, docker.errors.APIError) else exc.__cause__
        if not isinstance(cause, docker.errors.APIError):
            raise
        raise ImageUnavailable(f"image {image!r} is not available locally and could not be "
                               f"pulled: {cause.explanation}", cause.explanation) from exc
    _images_seen[image] = time.monotonic()
    return True


def run_container(
    *,
    image: str,
    name: str,
    env: dict[str, str],
    labels: dict[str, str],
    ports: dict[str, tuple[str, int] | int],
    network_mode: str | None = None,
    network: str | None = None,
) -> ContainerView:
    """Create and start a container; on any failure nothing is left behind."""
    options = {"image": image, "name": name, "environment": env, "labels": labels, "detach": True,
               "restart_policy": {"Name": "unless-stopped"}}
    if network_mode:
        options["network_mode"] = network_mode
    else:
        options["ports"] = ports
        if network:
            options["network"] = network
    docker_client = client()
    try:
        container = _call(docker_client.containers.create, **options)
    except docker.errors.ImageNotFound as exc:
        raise ImageUnavailable(f"image {image!r} is not available: {exc.explanation}",
                               exc.explanation) from exc
    except docker.errors.APIError as exc:
        if exc.status_code == 409:
            raise NameConflict(f"a container named {name!r} already exists") from exc
        raise ContainerStartFailed(f"Docker refused to create {name!r}: {exc.explanation}") from exc
    try:
        _call(container.start)
    except (docker.errors.APIError, DockerUnavailable) as exc:
        _remove_quietly(container.id)
        if isinstance(exc, DockerUnavailable):
            raise
        explanation = str(exc.explanation or exc)
        if _PORT_IN_USE.search(explanation):
            number = _PORT_NUMBER.search(explanation)
            raise PortInUse(
                f"a host port of {name!r} is already in use: {explanation}",
                int(number.group(1)) if number else None,
            ) from exc
        raise ContainerStartFailed(f"Docker could not start {name!r}: {explanation}") from exc
    # `create` already inspected it; a successful start means running, so no second inspect
    # (acexy waits at most 3 s for the whole provision).
    return replace(_view(container), status="running")


def _remove_quietly(ref: str) -> None:
    try:
        remove_container(ref)
    except DockerError:
        log.warning("could not remove failed container %s", ref, exc_info=True)


def remove_container(ref: str, stop_timeout: int = 3) -> bool:
    """Stop and remove; False when the container was already gone."""
    try:
        container = _call(client().containers.get, ref)
        if container.status in ("running", "restarting", "paused"):
            _call(container.stop, timeout=stop_timeout)
        _call(container.remove, force=True)
        return True
    except docker.errors.NotFound:
        return False
    except docker.errors.APIError as exc:
        if exc.status_code == 409 and "in progress" in str(exc.explanation):
            return True  # Docker is already removing it
        raise


def restart_container(ref: str, stop_timeout: int = 3) -> bool:
    """Docker's restart: stop (SIGTERM, then SIGKILL after `stop_timeout`), start again; False
    when the container is gone."""
    try:
        _call(_call(client().containers.get, ref).restart, timeout=stop_timeout)
    except docker.errors.NotFound:
        return False
    return True


def event_stream(since_ns: int | None, label: str):
    """Container events of our label, from `since_ns` (Unix time in nanoseconds, as events carry it
    in `timeNano`; events at that instant included) on; the caller closes the stream, from any
    thread. Docker ends this stream silently when the daemon restarts."""
    return _call(
        client().events,
        # Passed as text: the SDK would truncate a datetime to whole seconds.
        since=f"{since_ns // 10**9}.{since_ns % 10**9:09d}" if since_ns else None,
        decode=True,
        filters={"type": "container", "label": label},
    )


@dataclass(frozen=True)
class ContainerStats:
    """One sample of `docker stats` for a container, in the original orchestrator's terms."""

    container_id: str
    cpu_percent: float
    memory_usage: int
    memory_limit: int
    memory_percent: float
    network_rx_bytes: int
    network_tx_bytes: int
    block_read_bytes: int
    block_write_bytes: int


def _stats_of(container_id: str, sample: dict) -> ContainerStats:
    cpu, precpu = sample.get("cpu_stats") or {}, sample.get("precpu_stats") or {}
    cpu_delta = (cpu.get("cpu_usage", {}).get("total_usage", 0)
                 - precpu.get("cpu_usage", {}).get("total_usage", 0))
    system_delta = cpu.get("system_cpu_usage", 0) - precpu.get("system_cpu_usage", 0)
    cpus = cpu.get("online_cpus") or len(cpu.get("cpu_usage", {}).get("percpu_usage") or []) or 1
    cpu_percent = cpu_delta / system_delta * cpus * 100 if cpu_delta > 0 and system_delta > 0 else 0.0
    memory = sample.get("memory_stats") or {}
    usage, limit = int(memory.get("usage") or 0), int(memory.get("limit") or 0)
    networks = (sample.get("networks") or {}).values()
    blocks = (sample.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []

    def block(op: str) -> int:
        return sum(int(entry.get("value") or 0) for entry in blocks
                   if str(entry.get("op", "")).lower() == op)

    return ContainerStats(
        container_id=container_id,
        cpu_percent=round(cpu_percent, 2),
        memory_usage=usage,
        memory_limit=limit,
        memory_percent=round(usage / limit * 100, 2) if limit else 0.0,
        network_rx_bytes=sum(int(net.get("rx_bytes") or 0) for net in networks),
        network_tx_bytes=sum(int(net.get("tx_bytes") or 0) for net in networks),
        block_read_bytes=block("read"),
        block_write_bytes=block("write"),
    )


# Docker answers a stats request after taking two samples about a second apart (the CPU share is
# their difference), so each call takes a second or two: they run at once, one thread each.
STATS_THREADS = 32


def container_stats(container_ids: list[str], deadline_s: float) -> dict[str, ContainerStats | None]:
    """One stats sample per container, all asked at once; None for a container that is gone or
    did not answer within `deadline_s` (the whole call never takes longer)."""
    if not container_ids:
        return {}
    api = client().api

    def sample(container_id: str) -> ContainerStats | None:
        try:
            return _stats_of(container_id, _call(api.stats, container_id, stream=False))
        except (docker.errors.APIError, DockerError):
            return None

    pool = ThreadPoolExecutor(max_workers=min(STATS_THREADS, len(container_ids)),
                              thread_name_prefix="docker-stats")
    futures = {container_id: pool.submit(sample, container_id) for container_id in container_ids}
    with waiting_elsewhere():
        done, _ = wait(futures.values(), timeout=deadline_s)
    pool.shutdown(wait=False, cancel_futures=True)
    return {container_id: future.result() if future in done else None
            for container_id, future in futures.items()}
