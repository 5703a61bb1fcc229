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
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F
from django.dispatch import Signal
from django.utils import timezone
from pydantic import ValidationError

from .config import SAVED_REFRESH_S, TOPICS, Config, Layered, PortRange, forget_saved
from .errors import InvalidInput, NotFound
from .models import Setting, SettingChange, SettingsRevision

log = logging.getLogger(__name__)

# Sent after a change is committed (in the process that made it), with `names`: the environment
# names whose value in force changed. The site re-writes the worker's schedules on it.
settings_changed = Signal()

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


# -- the layers ------------------------------------------------------------------------------


class _Values(Config):
    """Config validated from given values only: the environment was read once, at start."""

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, **sources):
        return (init_settings,)


def _values_of(config: Config) -> dict[str, Any]:
    return {name: getattr(config, name) for name in FIELDS}


def combine(env: Config, saved: dict[str, Any]) -> Config:
    """The environment's config with `saved` over it, validated like start-up; ValidationError."""
    if not saved:
        return env
    return _Values.model_validate({**_values_of(env), **saved})


def _applicable(env: Config, saved: dict[str, Any]) -> tuple[Config, dict[str, Any], dict[str, str]]:
    """`combine`, leaving out the saved values the environment no longer allows (it changed at
    a restart: a saved MIN_REPLICAS above a new MAX_REPLICAS, say), each logged with its reason."""
    saved = {name: value for name, value in saved.items() if name in LIVE}
    try:
        return combine(env, saved), saved, {}
    except ValidationError:
        pass
    kept: dict[str, Any] = {}
    ignored: dict[str, str] = {}
    config = env
    for name in sorted(saved):
        try:
            config = combine(env, {**kept, name: saved[name]})
            kept[name] = saved[name]
        except ValidationError as exc:
            ignored[name] = "; ".join(_field_errors(exc).get(name, [])) or _explain_briefly(exc)
            log.warning("saved setting %s=%r is not applied: %s", name.lower(), saved[name],
                        ignored[name])
    return config, kept, ignored


def _read_revision() -> int | None:
    return SettingsRevision.objects.filter(pk=1).values_list("number", flat=True).first() or 0


def _read_saved() -> dict[str, Any]:
    return dict(Setting.objects.values_list("name", "value"))


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _read_database(previous: Layered | None) -> tuple[int | None, dict[str, Any] | None]:
    """(revision, saved values), the values None when the revision has not moved since
    `previous`. The revision is read first: a change committed between the two reads makes the
    next look read again, never keeps a stale copy."""
    if connection.in_atomic_block:
        # A failing read (tables not migrated yet) must not break the caller's transaction.
        with transaction.atomic():
            return _read_database_now(previous)
    return _read_database_now(previous)


def _read_database_now(previous: Layered | None) -> tuple[int | None, dict[str, Any] | None]:
    revision = _read_revision()
    if previous is not None and previous.revision == revision:
        return revision, None
    return revision, _read_saved()


_background = threading.Lock()


def _refresh_in_background() -> None:
    """For conf() called on an event loop, where Django refuses database reads: the saved values
    are read by a thread of their own and used from the next call on."""
    if not _background.acquire(blocking=False):
        return

    def read():
        try:
            from .config import reread

            reread()
        finally:
            connection.close()
            _background.release()

    threading.Thread(target=read, name="live-settings", daemon=True).start()


def layer(env: Config, previous: Layered | None) -> Layered:
    """What conf() answers from: the environment and the saved values, read again if their
    revision moved since `previous` (or `previous` is of another environment)."""
    now = time.monotonic()
    if previous is not None and previous.env is not env:
        # The environment layer was replaced (tests do): lay the saved values over the new one.
        config, _, ignored = _applicable(env, previous.saved)
        previous = Layered(env, previous.revision, previous.saved, ignored, config, previous.checked)
        if now - previous.checked < SAVED_REFRESH_S:
            return previous
    if _in_event_loop():
        _refresh_in_background()
        if previous is not None:
            return previous._replace(checked=now)
        return Layered(env, None, {}, {}, env, now)
    try:
        revision, saved = _read_database(previous)
    except Exception as exc:  # noqa: BLE001 - no database yet (migrate, checks), or blocked
        log.debug("saved settings not read: %s", exc)
        if previous is not None:
            return previous._replace(checked=now)
        return Layered(env, None, {}, {}, env, now)
    if saved is None and previous is not None:
        return previous._replace(checked=now)
    saved = {name: value for name, value in (saved or {}).items() if name in LIVE}
    config, _, ignored = _applicable(env, saved)
    return Layered(env, revision, saved, ignored, config, now)


# -- validation ------------------------------------------------------------------------------


class InvalidSettings(InvalidInput):
    """A change refused: `errors` maps each bad setting (lower case) to its reasons. The API
    answers it as FastAPI and ninja do a refused body: a list of {loc, msg, type}."""

    code = "invalid_settings"

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = {name.lower(): reasons for name, reasons in errors.items()}
        super().__init__("; ".join(f"{name}: {', '.join(reasons)}"
                                   for name, reasons in self.errors.items()))

    def detail(self):
        return [{"loc": ["body", name], "msg": reason, "type": "invalid_setting"}
                for name, reasons in self.errors.items() for reason in reasons]


def _field_errors(exc: ValidationError) -> dict[str, list[str]]:
    """Each bad field's reasons, the cross-field rules given to every field they involve."""
    errors: dict[str, list[str]] = {}
    for problem in exc.errors():
        if problem["loc"]:
            name = str(problem["loc"][0])
            message = problem["msg"].removeprefix("Value error, ")
            errors.setdefault(name, []).append(f"{message} (got {repr(problem['input'])[:80]})")
            continue
        for names, text in (problem.get("ctx") or {}).get("problems", [[[], problem["msg"]]]):
            for name in names or ["__all__"]:
                lowered = text
                for involved in names:
                    lowered = lowered.replace(involved, involved.lower())
                errors.setdefault(name, []).append(lowered)
    return errors


def _explain_briefly(exc: ValidationError) -> str:
    return "; ".join(reasons[0] for reasons in _field_errors(exc).values())


def _validated(env: Config, wanted: dict[str, Any]) -> tuple[Config | None, dict[str, list[str]]]:
    """`combine(env, wanted)`, or None and every problem: the rules between fields run only once
    each field is valid, so they are asked again without the invalid ones, and a request with a
    bad type and a minimum above the maximum hears of both."""
    try:
        return combine(env, wanted), {}
    except ValidationError as exc:
        problems = _field_errors(exc)
    rest = {name: value for name, value in wanted.items() if name not in problems}
    if len(rest) < len(wanted):
        try:
            combine(env, rest)
        except ValidationError as exc:
            for name, reasons in _field_errors(exc).items():
                problems.setdefault(name, []).extend(
                    reason for reason in reasons if reason not in problems[name])
    return None, problems


def environment_name(name: object) -> str:
    """`min_replicas` (or `MIN_REPLICAS`) to the environment's name, as given if unknown."""
    return str(name).upper()


def _check_names(changes: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    known: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for given, value in changes.items():
        name = environment_name(given)
        if name not in FIELDS:
            errors[str(given)] = ["unknown setting"]
        elif not is_live(name):
            errors[str(given)] = [f"cannot change while running: set {name} in the environment "
                                  f"and restart"]
        else:
            known[name] = value
    return known, errors


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
    known, errors = _check_names(changes)
    from django.conf import settings

    env: Config = settings.ORCH
    with transaction.atomic():
        _bump_revision()
        rows = {row.name: row for row in Setting.objects.all()}
        current_saved = {name: row.value for name, row in rows.items() if name in LIVE}
        before, _, _ = _applicable(env, current_saved)
        wanted = {} if replace else dict(current_saved)
        for name, value in known.items():
            if value is None:
                wanted.pop(name, None)
            else:
                wanted[name] = value
        after, problems = _validated(env, wanted)
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


# -- reading ---------------------------------------------------------------------------------


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
    config, applied_values, ignored = _applicable(env, {name: row.value for name, row in rows.items()})
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


def history(limit: int = 50) -> list[SettingChange]:
    return list(SettingChange.objects.all()[:limit])


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


__all__ = ["DatabaseError", "InvalidSettings", "apply", "describe", "export", "history", "layer",
           "reset", "settings_changed"]
