"""Live settings: the values operators save while the fleet runs, over the environment's.

The environment (`settings.ORCH`, read at start) gives the first values; a saved value wins and
survives restarts. What may be saved is declared on the fields of `core.config.Config` (`live`),
and every change goes through `apply()`, which validates the environment's values with the saved
ones and the change, as start-up validates the environment (types, ranges, the cross-field rules
such as MIN_REPLICAS <= MAX_REPLICAS), and refuses the whole change, naming every bad field, or
saves all of it in one transaction with a history row per changed setting.

Names outside are the environment's in lower case (`min_replicas`), as SPEC says; inside, the
environment's own (`MIN_REPLICAS`).

A value equal to the environment's is not kept as a saved value: saving it (or `null`, or a
reset) clears the saved one, so the setting follows the environment again.

This module saves: `apply()` and `reset()`, the history rows, and the signal sent after a change.
The rest lives beside it, each re-exported here for the callers that import it from here: what
each setting is (core/setting_fields.py), validation (core/settings_validation.py), reading the
saved values for conf() (core/saved_settings.py), and describing and exporting them
(core/settings_export.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F
from django.dispatch import Signal
from django.utils import timezone

from .config import Config
from .config_cache import forget_saved
from .errors import InvalidInput, NotFound
from .models import Setting, SettingChange, SettingsRevision
from .saved_settings import layer
from .setting_fields import (
    FIELDS,
    FIXED_TOPICS,
    LIVE,
    LIVE_TOPICS,
    MASK,
    bounds,
    is_live,
    is_secret,
    jsonable,
    kind,
    topic_of,
    topic_title,
)
from .settings_export import describe, export
from .settings_validation import (
    InvalidSettings,
    applicable,
    check_names,
    combine,
    environment_name,
    validated,
)

log = logging.getLogger(__name__)

# Sent after a change is committed (in the process that made it), with `names`: the environment
# names whose value in force changed. The site re-writes the worker's schedules on it.
settings_changed = Signal()


def _canonical(config: Config, name: str) -> Any:
    return jsonable(getattr(config, name))


@dataclass(frozen=True)
class Change:
    name: str  # the environment's name
    old: Any
    new: Any
    reset: bool


def _bump_revision() -> None:
    """Raise the revision first thing in a writing transaction: it queues concurrent writers
    (the row lock) and tells every process to read the saved values again."""
    if SettingsRevision.objects.filter(pk=1).update(number=F("number") + 1):
        return
    try:
        with transaction.atomic():
            SettingsRevision.objects.create(pk=1, number=1)
    except IntegrityError:  # created by another writer meanwhile
        SettingsRevision.objects.filter(pk=1).update(number=F("number") + 1)


def apply(changes: dict[str, Any], *, who: str, source: str, replace: bool = False) -> list[Change]:
    """Validate and save `changes` (names to values; None resets a setting to the environment).
    With `replace`, the saved values become exactly `changes` (an import): settings it leaves
    out return to the environment. All or nothing: InvalidSettings names every bad field and
    nothing is saved. Returns the settings whose value in force, or whose being saved, changed."""
    if not isinstance(changes, dict):
        raise InvalidInput("settings must be a JSON object of names to values")
    known, errors = check_names(changes)
    from django.conf import settings

    env: Config = settings.ORCH
    with transaction.atomic():
        _bump_revision()
        rows = {row.name: row for row in Setting.objects.all()}
        current_saved = {name: row.value for name, row in rows.items() if name in LIVE}
        before, _, _ = applicable(env, current_saved)
        wanted = {} if replace else dict(current_saved)
        for name, value in known.items():
            if value is None:
                wanted.pop(name, None)
            else:
                wanted[name] = value
        after, problems = validated(env, wanted)
        for name, reasons in problems.items():
            errors.setdefault(name.lower() if name in FIELDS else name, []).extend(reasons)
        if errors or after is None:
            raise InvalidSettings(errors)
        now = timezone.now()
        done: list[Change] = []
        for name in LIVE:
            value = _canonical(after, name)
            keep = name in wanted and value != _canonical(env, name)
            was_saved = name in rows
            old = _canonical(before, name)
            if keep:
                if was_saved and rows[name].value == value:
                    continue
                Setting.objects.update_or_create(
                    name=name, defaults={"value": value, "saved_by": who[:150], "saved_at": now})
            elif was_saved:
                rows[name].delete()
            else:
                continue
            if old == value and keep == was_saved:
                continue
            done.append(Change(name, old, value, reset=not keep))
        SettingChange.objects.bulk_create([
            SettingChange(at=now, who=who[:150], name=change.name, old_value=change.old,
                          new_value=change.new, reset=change.reset, source=source)
            for change in done])
        if not done:
            transaction.set_rollback(True)  # nothing to tell: leave the revision where it was
    forget_saved()
    if done:
        names = [change.name for change in done]
        transaction.on_commit(lambda: _announce(names))
    return done


def _announce(names: list[str]) -> None:
    forget_saved()
    for receiver, result in settings_changed.send_robust(sender=Setting, names=names):
        if isinstance(result, Exception):
            log.error("after the settings change (%s), %s failed: %s",
                      ", ".join(name.lower() for name in names), receiver, result)


def reset(name: str, *, who: str, source: str) -> list[Change]:
    """Back to the environment's value (a setting never saved is refused with 404 if unknown)."""
    upper = environment_name(name)
    if upper not in FIELDS:
        raise NotFound(f"no setting {str(name)[:80]!r}")
    return apply({name: None}, who=who, source=source)


def history(limit: int = 50) -> list[SettingChange]:
    return list(SettingChange.objects.all()[:limit])


__all__ = ["FIELDS", "FIXED_TOPICS", "LIVE", "LIVE_TOPICS", "MASK", "Change", "DatabaseError",
           "InvalidSettings", "apply", "bounds", "combine", "describe", "environment_name", "export",
           "history", "is_live", "is_secret", "jsonable", "kind", "layer", "reset", "settings_changed",
           "topic_of", "topic_title"]
