"""Every setting of the orchestrator, read once from the environment.

`load_config` is the only place that reads these variables; the rest of the code asks `conf()`.
A malformed value stops start-up with a message naming the variable, so a typo in a compose file
never turns into a silently different fleet.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


class ConfigError(Exception):
    """A setting has a value the orchestrator cannot run with."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
# The type of a setting that is a share of something, from 0 to 0.9 (see _parse_fraction).
Fraction = float


@dataclass(frozen=True)
class PortRange:
    start: int
    end: int

    def __contains__(self, port: int) -> bool:
        return self.start <= port <= self.end

    def __iter__(self):
        return iter(range(self.start, self.end + 1))

    def __len__(self) -> int:
        return self.end - self.start + 1

    def __str__(self) -> str:
        return f"{self.start}-{self.end}"


@dataclass(frozen=True)
class Config:
    API_KEY: str | None = None
    TARGET_IMAGE: str = "ghcr.io/krinkuto11/acestream-http-proxy:latest"
    MIN_REPLICAS: int = 3
    MAX_REPLICAS: int = 20
    CONTAINER_LABEL: str = "orchestrator.managed=acestream"
    ENGINE_NAME_PREFIX: str = "acestream"
    STARTUP_TIMEOUT_S: int = 25
    IDLE_TTL_S: int = 600
    COLLECT_INTERVAL_S: int = 5
    COLLECT_TIMEOUT_S: float = 3.0  # deadline of one stat_url fetch
    COLLECT_GIVE_UP_S: int = 120  # a started stream without readable stats this long is ended
    COLLECT_SPREAD: Fraction = 0.5  # share of the interval a pass spreads its requests over
    STATS_HISTORY_MAX: int = 720
    STATS_RETENTION_S: int = 86400
    HEALTH_CHECK_INTERVAL_S: int = 30
    HEALTH_CHECK_TIMEOUT_S: float = 5.0
    HEALTH_FAILURE_THRESHOLD: int = 3
    ENGINE_GRACE_PERIOD_S: int = 30
    AUTOSCALE_INTERVAL_S: int = 30
    PROVISION_FAILURE_THRESHOLD: int = 5  # failed engine starts in a row that open the breaker
    PROVISION_COOLDOWN_S: int = 300  # how long the breaker stays open before one trial start
    AUTO_DELETE: bool = True
    PORT_RANGE_HOST: PortRange = field(default_factory=lambda: PortRange(19000, 19999))
    ACE_HTTP_RANGE: PortRange = field(default_factory=lambda: PortRange(40000, 44999))
    ACE_HTTPS_RANGE: PortRange = field(default_factory=lambda: PortRange(45000, 49999))
    ACE_MAP_HTTPS: bool = False
    DOCKER_NETWORK: str | None = None
    DOCKER_TIMEOUT_S: int = 20
    ENGINE_HOST: str = "127.0.0.1"
    PORT_BIND_IP: str = ""
    GLUETUN_CONTAINER_NAME: str | None = None
    GLUETUN_API_PORT: int = 8000
    GLUETUN_API_URL: str | None = None
    GLUETUN_API_KEY: str | None = None
    GLUETUN_HEALTH_CHECK_INTERVAL_S: int = 5
    VPN_RESTART_ENGINES_ON_RECONNECT: bool = True
    MAX_ACTIVE_REPLICAS: int = 20
    PROVISION_ALLOWED_IMAGES: tuple[str, ...] = ()
    EXTERNAL_ENGINE_HOSTS: tuple[str, ...] = ()
    METRICS_TOKEN: str | None = None
    DATA_DIR: Path = BASE_DIR / "data"
    DATABASE_URL: str | None = None
    REDIS_URL: str | None = None
    SECRET_KEY: str | None = None
    DEBUG: bool = False
    ALLOWED_HOSTS: tuple[str, ...] = ("*",)
    CSRF_TRUSTED_ORIGINS: tuple[str, ...] = ()
    ADMIN_USERNAME: str = "admin"
    ADMIN_PASSWORD: str | None = None
    Q_WORKERS: int = 4
    WEB_THREADS: int = 32
    WEB_ACTIVE_REQUESTS: int = 4
    WEB_PROCESSES: int = 1

    @property
    def label_key(self) -> str:
        return self.CONTAINER_LABEL.split("=", 1)[0]

    @property
    def label_value(self) -> str:
        return self.CONTAINER_LABEL.split("=", 1)[1]

    @property
    def vpn_enabled(self) -> bool:
        return bool(self.GLUETUN_CONTAINER_NAME)

    @property
    def gluetun_api_url(self) -> str | None:
        if not self.vpn_enabled:
            return None
        if self.GLUETUN_API_URL:
            return self.GLUETUN_API_URL.rstrip("/")
        return f"http://{self.GLUETUN_CONTAINER_NAME}:{self.GLUETUN_API_PORT}"

    @property
    def replica_cap(self) -> int:
        """Engines allowed at once: behind a VPN the tighter MAX_ACTIVE_REPLICAS also applies."""
        if self.vpn_enabled:
            return min(self.MAX_REPLICAS, self.MAX_ACTIVE_REPLICAS)
        return self.MAX_REPLICAS

    @property
    def external_engine_hosts(self) -> frozenset[str]:
        """Hosts where a proxy may report engines of its own, which the collector then fetches:
        loopback names and ENGINE_HOST unless EXTERNAL_ENGINE_HOSTS lists more."""
        names = {"localhost", "127.0.0.1", "::1", self.ENGINE_HOST, *self.EXTERNAL_ENGINE_HOSTS}
        return frozenset(name.lower() for name in names)

    @property
    def allowed_images(self) -> tuple[str, ...]:
        return self.PROVISION_ALLOWED_IMAGES or (self.TARGET_IMAGE,)


def _parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (use true/false, 1/0, yes/no)")


def _parse_int(name: str, raw: str, minimum: int = 0) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} must be at least {minimum}")
    return value


def _number(name: str, raw: str) -> float:
    try:
        return float(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None


def _parse_float(name: str, raw: str) -> float:
    value = _number(name, raw)
    if value <= 0:
        raise ConfigError(f"{name}={value} must be greater than 0")
    return value


def _parse_fraction(name: str, raw: str) -> float:
    value = _number(name, raw)
    if not 0 <= value <= 0.9:
        raise ConfigError(f"{name}={value} must be between 0 and 0.9")
    return value


def _parse_range(name: str, raw: str) -> PortRange:
    parts = raw.strip().split("-")
    if len(parts) != 2:
        raise ConfigError(f"{name}={raw!r} is not a port range like 19000-19999")
    start, end = (_parse_int(name, part, minimum=1) for part in parts)
    if end > 65535:
        raise ConfigError(f"{name}={raw!r} goes beyond port 65535")
    if start > end:
        raise ConfigError(f"{name}={raw!r} is inverted: its start is above its end")
    return PortRange(start, end)


def _parse_label(name: str, raw: str) -> str:
    key, sep, value = raw.strip().partition("=")
    if not sep or not key or not value:
        raise ConfigError(f"{name}={raw!r} must look like key=value")
    return f"{key}={value}"


def _parse_list(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _optional(raw: str) -> str | None:
    return raw.strip() or None


DATABASE_SCHEMES = ("sqlite", "postgres", "postgresql", "pgsql")


def _parse_database_url(name: str, raw: str) -> str | None:
    """SQLite (a file: several processes share it) or PostgreSQL; the databases the tests run on."""
    url = raw.strip()
    if not url:
        return None
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in DATABASE_SCHEMES:
        raise ConfigError(f"{name}={scheme + sep!r}... is not supported: use sqlite:////path/to/file "
                          "or postgres://user:password@host/database")
    if scheme.lower() == "sqlite" and rest.strip("/") in ("", ":memory:"):
        raise ConfigError(f"{name}={url!r} is an in-memory database, which the web and the worker "
                          "cannot share: give a file, e.g. sqlite:////srv/orch/db.sqlite3")
    return url


_PARSERS = {
    "int": _parse_int,
    "float": _parse_float,
    "Fraction": _parse_fraction,
    "bool": _parse_bool,
    "PortRange": _parse_range,
}


def load_config(environ: Mapping[str, str] | None = None) -> Config:
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for name, spec in Config.__dataclass_fields__.items():
        raw = environ.get(name)
        if raw is None:
            continue
        kind = spec.type
        if name == "CONTAINER_LABEL":
            values[name] = _parse_label(name, raw)
        elif name == "DATABASE_URL":
            values[name] = _parse_database_url(name, raw)
        elif name == "DATA_DIR":
            values[name] = Path(raw).expanduser().resolve()
        elif kind == "tuple[str, ...]":
            values[name] = _parse_list(raw)
        elif kind == "str | None":
            values[name] = _optional(raw)
        elif kind == "str":
            if not raw.strip():
                raise ConfigError(f"{name} must not be empty")
            values[name] = raw.strip()
        else:
            values[name] = _PARSERS[kind](name, raw)
    config = Config(**values)
    _check_consistency(config)
    return config


def _check_consistency(config: Config) -> None:
    if config.MIN_REPLICAS > config.MAX_REPLICAS:
        raise ConfigError(
            f"MIN_REPLICAS={config.MIN_REPLICAS} is above MAX_REPLICAS={config.MAX_REPLICAS}"
        )
    if config.MAX_REPLICAS < 1:
        raise ConfigError("MAX_REPLICAS must be at least 1")
    for name in ("COLLECT_INTERVAL_S", "HEALTH_CHECK_INTERVAL_S", "AUTOSCALE_INTERVAL_S",
                 "GLUETUN_HEALTH_CHECK_INTERVAL_S", "STARTUP_TIMEOUT_S", "HEALTH_FAILURE_THRESHOLD",
                 "STATS_HISTORY_MAX", "DOCKER_TIMEOUT_S", "Q_WORKERS", "COLLECT_GIVE_UP_S",
                 "PROVISION_FAILURE_THRESHOLD",
                 "WEB_THREADS", "WEB_ACTIVE_REQUESTS", "WEB_PROCESSES"):
        if getattr(config, name) < 1:
            raise ConfigError(f"{name} must be at least 1")
    ranges = {
        "PORT_RANGE_HOST": config.PORT_RANGE_HOST,
        "ACE_HTTP_RANGE": config.ACE_HTTP_RANGE,
        "ACE_HTTPS_RANGE": config.ACE_HTTPS_RANGE,
    }
    names = list(ranges)
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            a, b = ranges[first], ranges[second]
            if a.start <= b.end and b.start <= a.end:
                raise ConfigError(f"{first}={a} overlaps {second}={b}")


def conf() -> Config:
    """The configuration in force (tests swap it through Django's settings)."""
    from django.conf import settings

    return settings.ORCH
