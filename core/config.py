"""Every setting of the orchestrator, declared once with its type and bounds (pydantic-settings)
and read from the environment at start by `load_config`; the rest of the code asks `conf()`.

A malformed value stops start-up with a message naming the variable, so a typo in a compose file
never turns into a silently different fleet. Booleans accept true/false, 1/0, yes/no, on/off.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

BASE_DIR = Path(__file__).resolve().parent.parent


class ConfigError(Exception):
    """A setting has a value the orchestrator cannot run with."""


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


def _port_range(raw):
    if isinstance(raw, PortRange):
        return raw
    parts = str(raw).strip().split("-")
    if len(parts) != 2 or not all(part.strip().isdigit() for part in parts):
        raise ValueError("is not a port range like 19000-19999")
    start, end = (int(part) for part in parts)
    if not (1 <= start and end <= 65535):
        raise ValueError("must lie within ports 1 to 65535")
    if start > end:
        raise ValueError("is inverted: its start is above its end")
    return PortRange(start, end)


def _comma_list(raw):
    if isinstance(raw, str):
        return tuple(item.strip() for item in raw.split(",") if item.strip())
    return raw


def _blank_is_unset(raw):
    return None if isinstance(raw, str) and not raw.strip() else raw


def _label(value: str) -> str:
    key, sep, label = value.partition("=")
    if not sep or not key or not label:
        raise ValueError("must look like key=value")
    return value


DATABASE_SCHEMES = ("sqlite", "postgres", "postgresql", "pgsql")


def _database_url(url: str | None) -> str | None:
    """SQLite (a file: several processes share it) or PostgreSQL, the databases the tests run on."""
    if url is None:
        return None
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in DATABASE_SCHEMES:
        raise ValueError("is not supported: use sqlite:////path/to/file or "
                         "postgres://user:password@host/database")
    if scheme.lower() == "sqlite" and rest.strip("/") in ("", ":memory:"):
        raise ValueError("is an in-memory database, which the web and the worker cannot share: "
                         "give a file, e.g. sqlite:////srv/orch/db.sqlite3")
    return url


Text = Annotated[str, Field(min_length=1), BeforeValidator(lambda raw: raw.strip()
                                                            if isinstance(raw, str) else raw)]
OptionalText = Annotated[str | None, BeforeValidator(_blank_is_unset)]
Count = Annotated[int, Field(ge=0)]
AtLeastOne = Annotated[int, Field(ge=1)]
Seconds = Annotated[float, Field(gt=0)]
# A share of something, from nothing to most of it.
Fraction = Annotated[float, Field(ge=0, le=0.9)]
Ports = Annotated[PortRange, NoDecode, BeforeValidator(_port_range)]
Names = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_comma_list)]


class Config(BaseSettings):
    """The environment's values (SPEC's names and defaults)."""

    model_config = SettingsConfigDict(case_sensitive=True, frozen=True, extra="ignore")

    API_KEY: OptionalText = None
    OPEN_API: bool = False  # without API_KEY: true leaves the API open instead of a generated key
    STREAM_KEY: OptionalText = None  # a key that opens the playback routes (/ace/getstream) only
    # Set by runorchestrator for the second and later web processes: where the first one, which
    # plays every content (one engine session per content), takes their players' requests.
    PLAYBACK_OWNER_URL: OptionalText = None
    TARGET_IMAGE: Text = "ghcr.io/krinkuto11/acestream-http-proxy:latest"
    MIN_REPLICAS: Count = 3
    MAX_REPLICAS: AtLeastOne = 20
    CONTAINER_LABEL: Annotated[Text, AfterValidator(_label)] = "orchestrator.managed=acestream"
    ENGINE_NAME_PREFIX: Text = "acestream"
    STARTUP_TIMEOUT_S: AtLeastOne = 25
    IDLE_TTL_S: Count = 600
    COLLECT_INTERVAL_S: AtLeastOne = 5
    COLLECT_TIMEOUT_S: Seconds = 3.0  # deadline of one stat_url fetch
    COLLECT_GIVE_UP_S: AtLeastOne = 120  # a started stream without readable stats this long is ended
    COLLECT_SPREAD: Fraction = 0.5  # share of the interval a pass spreads its requests over
    STATS_HISTORY_MAX: AtLeastOne = 720
    STATS_RETENTION_S: Count = 86400
    HEALTH_CHECK_INTERVAL_S: AtLeastOne = 30
    HEALTH_CHECK_TIMEOUT_S: Seconds = 5.0
    HEALTH_FAILURE_THRESHOLD: AtLeastOne = 3
    ENGINE_GRACE_PERIOD_S: Count = 30
    AUTOSCALE_INTERVAL_S: AtLeastOne = 30
    PROVISION_FAILURE_THRESHOLD: AtLeastOne = 5  # failed engine starts in a row that open the breaker
    PROVISION_COOLDOWN_S: Count = 300  # how long the breaker stays open before one trial start
    # Playback (/ace/getstream on the orchestrator itself).
    MAX_STREAMS_PER_ENGINE: AtLeastOne = 1  # started streams an engine takes before another is used
    PROXY_BUFFER_MB: Annotated[int, Field(ge=1, le=256)] = 8  # the shared ring of each content
    PROXY_STALL_S: Seconds = 6.0  # no byte from the engine this long: fail over
    PROXY_FAILOVER_TRIES: AtLeastOne = 3  # failed engine sessions in a row before players are closed
    PROXY_LINGER_S: Count = 10  # the session outlives its last player by this much
    PROXY_START_TIMEOUT_S: Seconds = 30.0  # no first byte this long: 504
    PROXY_MAX_PLAYERS_PER_STREAM: AtLeastOne = 100
    PROXY_MAX_STREAMS: AtLeastOne = 20  # contents played at once
    AUTO_DELETE: bool = True
    PORT_RANGE_HOST: Ports = PortRange(19000, 19999)
    ACE_HTTP_RANGE: Ports = PortRange(40000, 44999)
    ACE_HTTPS_RANGE: Ports = PortRange(45000, 49999)
    ACE_MAP_HTTPS: bool = False
    DOCKER_NETWORK: OptionalText = None
    DOCKER_TIMEOUT_S: AtLeastOne = 20
    ENGINE_HOST: Text = "127.0.0.1"
    PORT_BIND_IP: str = ""
    GLUETUN_CONTAINER_NAME: OptionalText = None
    GLUETUN_API_PORT: Annotated[int, Field(ge=1, le=65535)] = 8000
    GLUETUN_API_URL: OptionalText = None
    GLUETUN_API_KEY: OptionalText = None
    GLUETUN_HEALTH_CHECK_INTERVAL_S: AtLeastOne = 5
    VPN_RESTART_ENGINES_ON_RECONNECT: bool = True
    MAX_ACTIVE_REPLICAS: Count = 20
    PROVISION_ALLOWED_IMAGES: Names = ()
    EXTERNAL_ENGINE_HOSTS: Names = ()
    METRICS_TOKEN: OptionalText = None
    DATA_DIR: Annotated[Path, AfterValidator(lambda path: path.expanduser().resolve())] = (
        BASE_DIR / "data")
    DATABASE_URL: Annotated[OptionalText, AfterValidator(_database_url)] = None
    REDIS_URL: OptionalText = None
    SECRET_KEY: OptionalText = None
    DEBUG: bool = False
    ALLOWED_HOSTS: Names = ("*",)
    CSRF_TRUSTED_ORIGINS: Names = ()
    ADMIN_USERNAME: Text = "admin"
    ADMIN_PASSWORD: OptionalText = None
    Q_WORKERS: AtLeastOne = 4
    WEB_THREADS: AtLeastOne = 32
    WEB_ACTIVE_REQUESTS: AtLeastOne = 4
    WEB_PROCESSES: AtLeastOne = 1

    @model_validator(mode="after")
    def _consistent(self):
        if self.MIN_REPLICAS > self.MAX_REPLICAS:
            raise ValueError(f"MIN_REPLICAS={self.MIN_REPLICAS} is above "
                             f"MAX_REPLICAS={self.MAX_REPLICAS}")
        ranges = {name: getattr(self, name)
                  for name in ("PORT_RANGE_HOST", "ACE_HTTP_RANGE", "ACE_HTTPS_RANGE")}
        names = list(ranges)
        for number, first in enumerate(names):
            for second in names[number + 1:]:
                a, b = ranges[first], ranges[second]
                if a.start <= b.end and b.start <= a.end:
                    raise ValueError(f"{first}={a} overlaps {second}={b}")
        return self

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


def _explain(error: ValidationError) -> str:
    """One line per bad variable, each naming it: `MAX_REPLICAS='lots': ...`."""
    lines = []
    for problem in error.errors():
        message = problem["msg"].removeprefix("Value error, ")
        if problem["loc"]:
            lines.append(f"{problem['loc'][0]}={problem['input']!r}: {message}")
        else:
            lines.append(message)
    return "; ".join(lines)


def load_config() -> Config:
    """The environment's settings; ConfigError naming every variable it cannot run with."""
    try:
        return Config()
    except ValidationError as exc:
        raise ConfigError(_explain(exc)) from None


def conf() -> Config:
    """The configuration in force (tests swap it through Django's settings)."""
    from django.conf import settings

    return settings.ORCH
