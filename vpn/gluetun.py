"""Client of Gluetun's control server: tunnel status, public IP and forwarded port.

Short timeouts: the monitor calls it every few seconds and a hung control server must not stall
the loop. A 401/403 is reported as an auth error, never as "no port" or a healthy tunnel.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from core.config import conf
from core.request_slots import waiting_elsewhere

TIMEOUT_S = 2.0


class ControlError(Exception):
    """The control server could not be asked or gave an answer we cannot read."""


class AuthError(ControlError):
    """The control server refused our key (HTTP 401/403)."""


@dataclass(frozen=True)
class Reading:
    """One look at the control server. The tunnel status is required; the public IP and the
    forwarded port are extras: when only they fail, `None` / `port_known=False` say "unknown"
    (so a glitch is not read as "the port went away") and `problems` says why."""

    vpn_status: str
    public_ip: str | None
    forwarded_port: int | None
    port_known: bool = True
    problems: tuple[str, ...] = ()


def _client() -> httpx.Client:
    cfg = conf()
    headers = {"X-API-Key": cfg.GLUETUN_API_KEY} if cfg.GLUETUN_API_KEY else {}
    return httpx.Client(base_url=cfg.gluetun_api_url, headers=headers, timeout=TIMEOUT_S)


def _get(client: httpx.Client, path: str) -> httpx.Response:
    try:
        with waiting_elsewhere():
            response = client.get(path)
    except httpx.TimeoutException:
        raise ControlError(f"control server did not answer {path} within {TIMEOUT_S} s") from None
    except httpx.HTTPError as exc:
        raise ControlError(f"control server unreachable ({exc.__class__.__name__})") from None
    if response.status_code in (401, 403):
        raise AuthError(
            f"control server answered HTTP {response.status_code} to {path}: check GLUETUN_API_KEY")
    return response


def _json(response: httpx.Response) -> dict:
    if response.status_code != 200:
        raise ControlError(f"control server answered HTTP {response.status_code} to {response.url.path}")
    try:
        body = response.json()
    except ValueError:
        raise ControlError(f"control server answered {response.url.path} with non-JSON") from None
    if not isinstance(body, dict):
        raise ControlError(f"control server answered {response.url.path} with {type(body).__name__}")
    return body


def _port(body: dict) -> int | None:
    """`{"port": N}` or, on newer versions, `{"ports": [N, ...]}`; 0 or nothing means none."""
    ports = body.get("ports")
    value = ports[0] if isinstance(ports, list) and ports else body.get("port")
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 < value <= 65535 else None


def vpn_status(client: httpx.Client) -> str:
    status = _json(_get(client, "/v1/vpn/status")).get("status")
    return str(status) if status is not None else ""


def public_ip(client: httpx.Client) -> str:
    return str(_json(_get(client, "/v1/publicip/ip")).get("public_ip") or "")


def forwarded_port(client: httpx.Client) -> int | None:
    response = _get(client, "/v1/portforward")
    if response.status_code == 404:  # older Gluetun: only the OpenVPN route exists
        response = _get(client, "/v1/openvpn/portforwarded")
        if response.status_code == 404:  # this Gluetun offers no port forwarding
            return None
    return _port(_json(response))


def read() -> Reading:
    """Ask everything once; raises `AuthError` (any call) or `ControlError` (the status call)."""
    problems = []
    with _client() as client:
        status = vpn_status(client)
        try:
            ip = public_ip(client)
        except AuthError:
            raise
        except ControlError as exc:
            ip = None
            problems.append(f"public IP: {exc}")
        try:
            port, port_known = forwarded_port(client), True
        except AuthError:
            raise
        except ControlError as exc:
            port, port_known = None, False
            problems.append(f"forwarded port: {exc}")
    return Reading(status, ip, port, port_known, tuple(problems))
