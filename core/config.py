"""Every setting of the orchestrator, declared once with its type and bounds (pydantic-settings)
and read from the environment at start by `load_config`; the rest of the code asks `conf()`.

A malformed value stops start-up with a message naming the variable, so a typo in a compose file
never turns into a silently different fleet. Booleans accept true/false, 1/0, yes/no, on/off.

Each field says whether operators may change it while the fleet runs (`live`, with its topic and
help text) or only in the environment before a start (`fixed`). `conf()` answers the environment's
values overlaid with the live values saved in the database (core/live_settings.py: the admin's
Settings page, PATCH /settings, `manage.py settings`), validated by the same rules.

This module holds the `Config` class and `load_config`; the field types, validators and
`live`/`fixed` are in core/config_types.py, and `conf()` with its copy of the saved values in
core/config_cache.py. Both are re-exported here, where the rest of the code imports them from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from .config_cache import SAVED_REFRESH_S, Layered, conf, current_layers, forget_saved, reread
from .config_types import (
    DATABASE_SCHEMES,
    TOPICS,
    AtLeastOne,
    Count,
    DatabaseUrl,
    Fraction,
    Image,
    Images,
    Label,
    Names,
    OptionalText,
    PortRange,
    Ports,
    Seconds,
    Text,
    fixed,
    live,
)

BASE_DIR = Path(__file__).resolve().parent.parent


class ConfigError(Exception):
    """A setting has a value the orchestrator cannot run with."""


class Config(BaseSettings):
    """The environment's values (SPEC's names and defaults)."""

    model_config = SettingsConfigDict(case_sensitive=True, frozen=True, extra="ignore")

    API_KEY: OptionalText = fixed(None, "security", secret=True,
                                  help="Bearer key every API route needs (except /metrics, /health); unset: "
                                       "a key generated in DATA_DIR")
    OPEN_API: bool = fixed(False, "security",
                           help="With no API_KEY, true leaves the API open instead of generating a key")
    STREAM_KEY: OptionalText = fixed(None, "security", secret=True,
                                     help="A key that opens the playback routes (/ace/getstream) only")
    # Set by runorchestrator for the second and later web processes: where the first one, which
    # plays every content (one engine session per content), takes their players' requests.
    PLAYBACK_OWNER_URL: OptionalText = fixed(None, "processes",
                                             help="Set by runorchestrator for the second and later web "
                                                  "processes: the one that plays every content")
    TARGET_IMAGE: Image = live("ghcr.io/krinkuto11/acestream-http-proxy:latest", "engines",
                              help="Engine image new engines are started from")
    MIN_REPLICAS: Count = live(3, "engines", le=1000, help="Engines kept running, warm, even with no stream")
    MAX_REPLICAS: AtLeastOne = live(20, "engines", le=1000,
                                    help="Engines never exceeded: provisioning beyond answers 503")
    CONTAINER_LABEL: Label = fixed(
        "orchestrator.managed=acestream", "docker",
        help="Label (key=value) that marks this orchestrator's engines")
    ENGINE_NAME_PREFIX: Text = fixed("acestream", "docker", help="Engines are named <prefix>-<N>")
    STARTUP_TIMEOUT_S: AtLeastOne = live(25, "health", le=3600,
                                         help="Seconds a new engine has to answer get_status before its "
                                              "start counts as failed")
    IDLE_TTL_S: Count = live(600, "engines",
                             help="Seconds after which a provisioned engine that never had a stream is "
                                  "removed (with AUTO_DELETE)")
    COLLECT_INTERVAL_S: AtLeastOne = live(5, "stats", le=3600,
                                          help="Seconds between two stats collection passes")
    COLLECT_TIMEOUT_S: Seconds = live(3.0, "stats", le=300, help="Seconds one stat URL fetch may take")
    COLLECT_GIVE_UP_S: AtLeastOne = live(120, "stats",
                                         help="A started stream whose stats cannot be read for this many "
                                              "seconds is ended")
    COLLECT_SPREAD: Fraction = live(0.5, "stats",
                                    help="Share of the interval (0 to 0.9) over which a pass spreads its "
                                         "requests; 0 sends them at once")
    STATS_HISTORY_MAX: AtLeastOne = live(720, "stats", le=1000000, help="Stats snapshots kept per stream")
    STATS_RETENTION_S: Count = live(86400, "stats", help="Seconds the history of an ended stream is kept")
    HEALTH_CHECK_INTERVAL_S: AtLeastOne = live(30, "health", le=3600,
                                               help="Seconds between two health passes (the worker's "
                                                    "scheduler wakes every 5 s)")
    HEALTH_CHECK_TIMEOUT_S: Seconds = live(5.0, "health", le=300,
                                           help="Seconds one get_status check may take")
    HEALTH_FAILURE_THRESHOLD: AtLeastOne = live(3, "health", le=1000,
                                                help="Failed checks in a row before an idle engine is "
                                                     "replaced")
    ENGINE_GRACE_PERIOD_S: Count = live(30, "engines",
                                        help="Seconds after its last stream ended before an engine is "
                                             "removed (with AUTO_DELETE)")
    AUTOSCALE_INTERVAL_S: AtLeastOne = live(30, "engines", le=3600,
                                            help="Seconds between two reconcile passes, which keep "
                                                 "MIN_REPLICAS (the worker's scheduler wakes every 5 s)")
    PROVISION_FAILURE_THRESHOLD: AtLeastOne = live(5, "engines", le=1000,
                                                   help="Failed engine starts in a row that open the start "
                                                        "circuit breaker")
    PROVISION_COOLDOWN_S: Count = live(300, "engines", le=86400,
                                       help="Seconds the breaker stays open before it lets one trial start "
                                            "through")
    # Playback (/ace/getstream on the orchestrator itself).
    MAX_STREAMS_PER_ENGINE: AtLeastOne = live(1, "proxy", le=100,
                                              help="Started streams an engine takes before another engine is"
                                                   " used")
    PROXY_BUFFER_MB: Annotated[int, Field(ge=1, le=256)] = live(8, "proxy",
                                                                help="Megabytes of the shared ring each "
                                                                     "played content keeps")
    PROXY_STALL_S: Seconds = live(6.0, "proxy", le=300,
                                  help="Seconds without a byte from the engine before the proxy fails over")
    PROXY_FAILOVER_TRIES: AtLeastOne = live(3, "proxy", le=20,
                                            help="Failed engine sessions in a row before the players are "
                                                 "closed")
    PROXY_LINGER_S: Count = live(10, "proxy", le=3600,
                                 help="Seconds a content's engine session outlives its last player")
    PROXY_START_TIMEOUT_S: Seconds = live(30.0, "proxy", le=600,
                                          help="Seconds to wait for a content's first byte before answering "
                                               "504")
    PROXY_MAX_PLAYERS_PER_STREAM: AtLeastOne = live(100, "proxy", le=10000,
                                                    help="Players one content may have at once")
    PROXY_MAX_STREAMS: AtLeastOne = live(20, "proxy", le=1000, help="Contents played at once")
    AUTO_DELETE: bool = live(True, "engines",
                             help="Remove idle engines (after IDLE_TTL_S or ENGINE_GRACE_PERIOD_S), keeping "
                                  "MIN_REPLICAS")
    PORT_RANGE_HOST: Ports = fixed(PortRange(19000, 19999), "docker",
                                   help="Host ports for engines (behind the VPN, both their ports)")
    ACE_HTTP_RANGE: Ports = fixed(PortRange(40000, 44999), "docker",
                                  help="Kept for compatibility: the container HTTP port equals the host port")
    ACE_HTTPS_RANGE: Ports = fixed(PortRange(45000, 49999), "docker", help="Container HTTPS ports")
    ACE_MAP_HTTPS: bool = fixed(False, "docker", help="Also publish the HTTPS port on the host")
    DOCKER_NETWORK: OptionalText = fixed(None, "docker", help="Network engines are attached to")
    DOCKER_TIMEOUT_S: AtLeastOne = fixed(20, "docker", help="Seconds one Docker API call may take")
    ENGINE_HOST: Text = fixed("127.0.0.1", "docker",
                              help="Where proxies and the orchestrator reach published engine ports")
    PORT_BIND_IP: str = fixed("", "docker",
                              help="Host address engine ports are published on (empty: all interfaces)")
    GLUETUN_CONTAINER_NAME: OptionalText = fixed(None, "vpn",
                                                 help="Enables VPN mode: engines join this container's "
                                                      "network")
    GLUETUN_API_PORT: Annotated[int, Field(ge=1, le=65535)] = fixed(8000, "vpn",
                                                                    help="Gluetun control server port")
    GLUETUN_API_URL: OptionalText = fixed(None, "vpn",
                                          help="Gluetun control server URL (default "
                                               "http://<GLUETUN_CONTAINER_NAME>:<GLUETUN_API_PORT>)")
    GLUETUN_API_KEY: OptionalText = fixed(None, "vpn", secret=True,
                                          help="Sent as X-API-Key to Gluetun's control server")
    GLUETUN_HEALTH_CHECK_INTERVAL_S: AtLeastOne = live(5, "vpn", le=3600,
                                                       help="Seconds between two checks of Gluetun")
    VPN_RESTART_ENGINES_ON_RECONNECT: bool = live(True, "vpn",
                                                  help="Recreate the engines when Gluetun restarts")
    MAX_ACTIVE_REPLICAS: Count = live(20, "engines", le=1000, help="Engines allowed behind the VPN")
    PROVISION_ALLOWED_IMAGES: Images = live((), "engines",
                                           help="Images POST /provision may start (empty: TARGET_IMAGE only)")
    EXTERNAL_ENGINE_HOSTS: Names = fixed((), "docker",
                                         help="Hosts where a proxy may report engines of its own (besides "
                                              "loopback and ENGINE_HOST)")
    METRICS_TOKEN: OptionalText = fixed(None, "security", secret=True,
                                        help="When set, /metrics needs Authorization: Bearer <token>")
    DATA_DIR: Annotated[Path, AfterValidator(lambda path: path.expanduser().resolve())] = fixed(
        BASE_DIR / "data", "storage",
        help="SQLite databases, secret key, first admin password")
    DATABASE_URL: DatabaseUrl = fixed(None, "storage", secret=True,
                                      help="PostgreSQL (postgres://...) or a SQLite file elsewhere "
                                           "(sqlite:////path)")
    REDIS_URL: OptionalText = fixed(None, "storage", secret=True,
                                    help="Redis for the channel layer (live updates across hosts)")
    SECRET_KEY: OptionalText = fixed(None, "security", secret=True,
                                     help="Django secret key (generated in DATA_DIR when unset)")
    DEBUG: bool = fixed(False, "processes", help="Django debug mode")
    ALLOWED_HOSTS: Names = fixed(("*",), "security", help="Host names the web answers to")
    CSRF_TRUSTED_ORIGINS: Names = fixed((), "security",
                                        help="Origins the panel and admin may be opened from behind a proxy")
    ADMIN_USERNAME: Text = fixed("admin", "security", help="First admin account")
    ADMIN_PASSWORD: OptionalText = fixed(None, "security", secret=True,
                                         help="First admin account's password (generated when unset)")
    Q_WORKERS: AtLeastOne = fixed(4, "processes", help="django-q2 worker threads of the worker process")
    WEB_THREADS: AtLeastOne = fixed(32, "processes", help="Threads serving HTTP requests in a web process")
    WEB_ACTIVE_REQUESTS: AtLeastOne = fixed(4, "processes",
                                            help="Requests of one web process running Python code at once")
    WEB_PROCESSES: AtLeastOne = fixed(1, "processes", help="daphne processes of the web, sharing the port")

    @model_validator(mode="after")
    def _consistent(self):
        """The rules between fields. The error carries each broken rule with the fields it
        involves (`problems` in its context), so a refused PATCH names every one of them."""
        problems = self.cross_field_problems()
        if problems:
            message = "; ".join(text for _, text in problems)
            raise PydanticCustomError("inconsistent", "{message}", {
                "message": message, "problems": [[list(names), text] for names, text in problems]})
        return self

    def cross_field_problems(self) -> list[tuple[tuple[str, ...], str]]:
        problems = []
        if self.MIN_REPLICAS > self.MAX_REPLICAS:
            problems.append((("MIN_REPLICAS", "MAX_REPLICAS"),
                             f"MIN_REPLICAS={self.MIN_REPLICAS} is above "
                             f"MAX_REPLICAS={self.MAX_REPLICAS}"))
        ranges = {name: getattr(self, name)
                  for name in ("PORT_RANGE_HOST", "ACE_HTTP_RANGE", "ACE_HTTPS_RANGE")}
        names = list(ranges)
        for number, first in enumerate(names):
            for second in names[number + 1:]:
                a, b = ranges[first], ranges[second]
                if a.start <= b.end and b.start <= a.end:
                    problems.append(((first, second), f"{first}={a} overlaps {second}={b}"))
        return problems

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


__all__ = ["BASE_DIR", "DATABASE_SCHEMES", "SAVED_REFRESH_S", "TOPICS", "AtLeastOne", "Config",
           "ConfigError", "Count", "DatabaseUrl", "Fraction", "Image", "Images", "Label", "Layered",
           "Names", "OptionalText", "PortRange", "Ports", "Seconds", "Text", "conf", "current_layers",
           "fixed", "forget_saved", "live", "load_config", "reread"]
