from datetime import datetime

from ninja import Schema


class VpnTransitionOut(Schema):
    ts: datetime
    kind: str
    detail: str


class VpnStatusOut(Schema):
    """SPEC.md's shape; without VPN only its first six fields are sent."""

    enabled: bool
    status: str
    container_name: str | None
    health: str
    forwarded_port: int | None
    last_check: datetime | None
    public_ip: str | None = None
    vpn_status: str | None = None
    auth_error: bool = False
    container_id: str | None = None
    last_error: str | None = None
    recent_transitions: list[VpnTransitionOut] = []


class PublicIpOut(Schema):
    public_ip: str
    last_check: datetime | None
