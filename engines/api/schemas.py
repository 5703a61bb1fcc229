from datetime import datetime

from ninja import Field, Schema

from orchestrator_site.schemas import EnvVars, ImageRef, Labels, NamePrefix, Port
from streams.api.schemas import StreamState


class ProvisionAcestreamIn(Schema):
    image: ImageRef | None = None
    labels: Labels = Field(default_factory=dict)
    env: EnvVars = Field(default_factory=dict)
    host_port: Port | None = None
    wait_ready: bool = False


class ProvisionAcestreamOut(Schema):
    container_id: str
    container_name: str
    host_http_port: int
    container_http_port: int
    container_https_port: int


class ProvisionGenericIn(Schema):
    image: ImageRef
    env: EnvVars = Field(default_factory=dict)
    labels: Labels = Field(default_factory=dict)
    ports: dict[str, Port] = Field(default_factory=dict, description='e.g. {"40001/tcp": 19001}')
    name_prefix: NamePrefix = "svc"


class ProvisionGenericOut(Schema):
    container_id: str
    container_name: str


class EngineState(Schema):
    container_id: str
    container_name: str
    host: str
    port: int | None
    labels: dict[str, str]
    first_seen: datetime
    last_seen: datetime
    streams: list[str]
    health_status: str
    last_health_check: datetime | None
    last_stream_usage: datetime | None
    forwarded: bool
    active_streams: int
    idle_seconds: float | None
    last_health_error: str
    managed: bool
    state: str
    image: str
    container_http_port: int | None
    container_https_port: int | None
    host_https_port: int | None
    p2p_port: int | None


class EngineDetail(Schema):
    engine: EngineState
    streams: list[StreamState]


class ContainerOut(Schema):
    id: str
    name: str
    image: str
    created: str
    status: str
    labels: dict[str, str]
    ports: dict[str, list[dict[str, str]]]


class DeletedOut(Schema):
    deleted: str


class ScaledOut(Schema):
    scaled_to: int


class StatusOut(Schema):
    status: str
