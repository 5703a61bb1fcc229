"""What the settings look like from outside: `describe()`, every setting with its value in force,
the environment's, where the value comes from and who saved it (GET /settings, the admin's
Settings page, `manage.py settings`), secrets masked; and `export()`, the saved values as an
import takes them back (an import itself is `core.live_settings.apply(..., replace=True)`).

Apart from core/live_settings.py, which validates and saves changes, because this only reads.
Both functions are also importable from core.live_settings.
"""

from __future__ import annotations

from typing import Any

from .config import Config
from .models import Setting
from .setting_fields import (
    FIELDS,
    FIXED_TOPICS,
    LIVE,
    LIVE_TOPICS,
    MASK,
    is_live,
    is_secret,
    jsonable,
    topic_of,
)
from .settings_validation import applicable


def _shown(name: str, value: Any) -> Any:
    if is_secret(name) and value not in (None, ""):
        return MASK
    return jsonable(value)


def describe() -> list[dict[str, Any]]:
    """Every setting as GET /settings shows it: live ones by topic first, then the others."""
    from django.conf import settings

    env: Config = settings.ORCH
    # From the rows themselves rather than this process's copy, which may be a second old.
    rows = {row.name: row for row in Setting.objects.all() if row.name in LIVE}
    config, applied_values, ignored = applicable(env, {name: row.value for name, row in rows.items()})
    def place(name: str) -> tuple[bool, int]:
        topics = LIVE_TOPICS if is_live(name) else FIXED_TOPICS
        return not is_live(name), topics.index(topic_of(name))

    order = sorted(FIELDS, key=place)
    described = []
    for name in order:
        field = FIELDS[name]
        saved = rows.get(name)
        if name in applied_values:
            source = "saved"
        elif name in env.model_fields_set:
            source = "environment"
        else:
            source = "default"
        entry = {
            "name": name.lower(),
            "value": _shown(name, getattr(config, name)),
            "environment": _shown(name, getattr(env, name)),
            "source": source,
            "live": is_live(name),
            "topic": topic_of(name),
            "help": field.description or "",
        }
        if saved is not None:
            entry["saved_by"] = saved.saved_by
            entry["saved_at"] = saved.saved_at
            if name in ignored:
                entry["not_applied"] = ignored[name]
        described.append(entry)
    return described


def export() -> dict[str, Any]:
    """The saved values, as `import_settings` takes them back."""
    return {name.lower(): value for name, value in Setting.objects.values_list("name", "value")
            if name in LIVE}
