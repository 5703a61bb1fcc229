import time

from ninja import Body, Router
from pydantic_core import to_json

from core.config import conf
from core.errors import Forbidden, InvalidInput, NotFound, TimedOut
from core.rendering import json_response
from engines import cleanup, docker_gateway, health, lifecycle, listing, provisioning
from engines.models import Engine
from engines.provisioning import record_provision_duration

from . import schemas

router = Router(tags=["engines"])


def find_engine(ref: str) -> Engine:
    """A listed engine by container id or name, or 404."""
    engine = Engine.objects.listed().by_ref(ref).first()
    if engine is None:
        raise NotFound(f"no engine {ref[:200]!r}")
    return engine


@router.post("/provision/acestream", response=schemas.ProvisionAcestreamOut)
def provision_acestream(request, body: schemas.ProvisionAcestreamIn = Body(None)):
    """Start an AceStream engine; answers as soon as its container runs (acexy waits 3 s)."""
    body = body or schemas.ProvisionAcestreamIn()
    began = time.monotonic()
    engine = provisioning.provision_engine(provisioning.EngineRequest(
        image=body.image, labels=body.labels, env=body.env, host_port=body.host_port,
    ))
    record_provision_duration(time.monotonic() - began)
    if body.wait_ready and (reason := health.wait_for_engine(engine)):
        raise TimedOut(f"engine {engine.container_name} did not answer get_status within "
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
        raise Forbidden(f"image {body.image!r} is not in PROVISION_ALLOWED_IMAGES")
    for port in body.ports:
        number, _, proto = port.partition("/")
        if not number.isdigit() or not 1 <= int(number) <= 65535 or proto not in ("tcp", "udp"):
            raise InvalidInput(f"port {port!r} must look like 40001/tcp")
    bind_ip = conf().PORT_BIND_IP
    view = provisioning.provision_generic(
        image=body.image, env=body.env, labels=body.labels,
        published={port: (bind_ip, host) for port, host in body.ports.items()},
        name_prefix=body.name_prefix,
    )
    return {"container_id": view.id, "container_name": view.name}


@router.get("/engines", response=list[schemas.EngineState])
def list_engines(request):
    return json_response(to_json(listing.listed_engine_states()))


@router.delete("/containers/{container_id}", response=schemas.DeletedOut)
def delete_container(request, container_id: str):
    engine = Engine.objects.by_ref(container_id).first()
    if engine is not None:
        lifecycle.delete_engine(engine)
        return {"deleted": engine.container_id or container_id}
    view = docker_gateway.get_container(container_id)
    if view is None or not provisioning.is_ours(view):
        raise NotFound(f"no container {container_id!r} managed by this orchestrator")
    docker_gateway.remove_container(view.id)
    return {"deleted": view.id}


@router.get("/containers/{container_id}", response=schemas.ContainerOut)
def get_container(request, container_id: str):
    view = docker_gateway.get_container(container_id)
    if view is None or not provisioning.is_ours(view):
        raise NotFound(f"no container {container_id!r} managed by this orchestrator")
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
        raise InvalidInput("demand must be 0 or more")
    return {"scaled_to": lifecycle.scale_to(demand)}


@router.post("/gc", response=schemas.StatusOut)
def garbage_collect(request):
    cleanup.cleanup_pass()
    return {"status": "ok"}
