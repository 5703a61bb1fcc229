"""What each setting of `core.config.Config` is, read from its declaration (`live`/`fixed`): live
or fixed, secret or not, its topic, its numeric bounds and the kind of value a form asks for, and
how its value is written as JSON.

Shared by validation (core/settings_validation.py), saving (core/live_settings.py), what is shown
(core/settings_export.py) and the admin's Settings page; it needs no database, only the class.
Every name here is also importable from core.live_settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .config import Config
from .config_types import TOPICS, PortRange

FIELDS = Config.model_fields
MASK = "********"


def _extra(name: str) -> dict:
    extra = FIELDS[name].json_schema_extra
    return extra if isinstance(extra, dict) else {}


def is_live(name: str) -> bool:
    return bool(_extra(name).get("live"))


def is_secret(name: str) -> bool:
    return bool(_extra(name).get("secret"))


def topic_of(name: str) -> str:
    return str(_extra(name).get("topic", "processes"))


LIVE = tuple(name for name in FIELDS if is_live(name))
LIVE_TOPICS = ("engines", "health", "stats", "vpn", "proxy")
FIXED_TOPICS = ("docker", "vpn", "storage", "security", "processes", "engines", "health", "stats",
                "proxy")


def jsonable(value: Any) -> Any:
    """A setting's value as JSON writes it: port ranges and paths as text, tuples as lists."""
    if isinstance(value, PortRange | Path):
        return str(value)
    if isinstance(value, tuple):
        return [jsonable(item) for item in value]
    return value


def topic_title(topic: str) -> str:
    return TOPICS.get(topic, topic.title())


def bounds(name: str) -> dict[str, float]:
    """The field's numeric bounds (ge, gt, le, lt), for a form's min and max."""
    found: dict[str, float] = {}
    for item in FIELDS[name].metadata:
        for key in ("ge", "gt", "le", "lt"):
            value = getattr(item, key, None)
            if value is not None:
                found[key] = value
    return found


def kind(name: str) -> str:
    """bool, int, float, list or text: how a form asks for the value."""
    default = FIELDS[name].default
    for python_type, label in ((bool, "bool"), (int, "int"), (float, "float"), (tuple, "list")):
        if isinstance(default, python_type):
            return label
    return "text"
