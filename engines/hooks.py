"""Questions the engines app asks apps above it (core.hooks): the vpn app answers `placement`
and `vpn_blocked`, the streams app `started_streams` and `started_stream_count`. Until one
answers, the default holds: no VPN, no streams."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Value

from core.hooks import Hook


@dataclass(frozen=True)
class Placement:
    """Where a new engine starts when not on the default network: inside another container's
    network namespace (Gluetun's), with the port it forwards, if any."""

    network_mode: str
    parent_id: str
    forwarded_port: int | None


# () -> Placement | None; raises gate.ProvisioningBlocked when engines cannot start anywhere now.
placement = Hook("placement", lambda: None)
# () -> gate.Blocked | None: the VPN's reason provisioning is blocked (vpn_disconnected).
vpn_blocked = Hook("vpn_blocked", lambda: None)
# (engine pks) -> {engine pk: [ids of its started streams]}: what GET /engines lists per engine.
started_streams = Hook("started_streams", lambda engine_pks: {})
# () -> a query expression counting an engine's started streams, for annotating engine lists.
started_stream_count = Hook("started_stream_count", lambda: Value(0))
