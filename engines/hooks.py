"""Questions the engines app asks apps above it, which it must not import.

An upper app answers one by registering a function in its AppConfig.ready() (the vpn app answers
`placement` and `vpn_blocked`); until one does, the default answer applies: no VPN.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class Hook:
    """One question, one answering function."""

    def __init__(self, name: str, default: Callable[..., Any]):
        self.name = name
        self._answer = default

    def register(self, answer: Callable[..., Any]) -> Callable[..., Any]:
        self._answer = answer
        return answer

    def __call__(self, *args, **kwargs):
        return self._answer(*args, **kwargs)


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
