from datetime import datetime

from ninja import Field, Schema

from core.schemas import EnvVars, ImageRef, Labels, NamePrefix, Port


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


class EngineStatsTotalOut(Schema):
    total_cpu_percent: float
    total_memory_usage: int
    total_network_rx_bytes: int
    total_network_tx_bytes: int
    total_block_read_bytes: int
    total_block_write_bytes: int
    container_count: int
    # Engines whose sample did not come within the deadline (not in the totals).
    missing: list[str]


class CircuitBreakerOut(Schema):
    state: str
    failure_count: int
    failure_threshold: int
    last_failure_time: datetime | None
    last_failure: str
    last_success_time: datetime | None
    recovery_timeout: int
    opened_at: datetime | None


class BlockedOut(Schema):
    code: str
    message: str
    recovery_eta_seconds: int | None
    can_retry: bool
    should_wait: bool


class HealthStatusOut(Schema):
    total_engines: int
    healthy_engines: int
    unhealthy_engines: int
    unknown_engines: int
    marked_for_replacement: int
    minimum_required: int
    health_check_interval: int
    circuit_breakers: dict[str, CircuitBreakerOut]
    provisioning_blocked: BlockedOut | None


class BreakerResetOut(Schema):
    message: str
    circuit_breaker_state: str
