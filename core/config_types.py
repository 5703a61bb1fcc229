"""The vocabulary `core.config.Config` declares its fields in: the value types with their parsing
and bounds (port ranges, comma lists, images, database URLs...), the topics settings are grouped
under, and `live(...)` / `fixed(...)`, which say whether a field may change while the fleet runs.

Kept apart from the class so that config.py reads as the list of settings itself; every name here
is also importable from core.config.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_settings import NoDecode


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
_IMAGE = r"^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}$"
Image = Annotated[str, BeforeValidator(lambda raw: raw.strip() if isinstance(raw, str) else raw),
                  Field(pattern=_IMAGE)]
Images = Annotated[tuple[Image, ...], NoDecode, BeforeValidator(_comma_list)]
# A key=value Docker label.
Label = Annotated[Text, AfterValidator(_label)]
# Unset, or a database the web and the worker can share.
DatabaseUrl = Annotated[OptionalText, AfterValidator(_database_url)]

TOPICS = {"engines": "Engines", "health": "Health", "stats": "Stats", "vpn": "VPN", "proxy": "Proxy",
          "docker": "Docker", "security": "Access", "storage": "Storage", "processes": "Processes"}


def live(default: Any, topic: str, *, help: str, **bounds: Any) -> Any:
    """A setting operators may change while the fleet runs: every loop and job reads it through
    conf() at its next pass."""
    assert topic in TOPICS
    return Field(default, description=help, json_schema_extra={"live": True, "topic": topic},
                 **bounds)


def fixed(default: Any, topic: str, *, help: str, secret: bool = False, **bounds: Any) -> Any:
    """A setting read at start only (process wiring, storage, keys): shown, never changed live.
    A `secret` one is masked wherever it is shown."""
    assert topic in TOPICS
    return Field(default, description=help,
                 json_schema_extra={"live": False, "topic": topic, "secret": secret}, **bounds)
