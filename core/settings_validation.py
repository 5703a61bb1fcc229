"""Validating live settings: the environment's values with saved ones or a requested change over
them, checked as start-up checks the environment (types, ranges, the cross-field rules such as
MIN_REPLICAS <= MAX_REPLICAS), and the refusal that names every bad field (`InvalidSettings`).

Apart from core/live_settings.py, which saves changes, because reading the saved values
(core/saved_settings.py) and showing them (core/settings_export.py) validate the same way and
need none of the saving. `InvalidSettings`, `combine` and `environment_name` are also importable
from core.live_settings.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from .config import Config
from .errors import InvalidInput
from .setting_fields import FIELDS, LIVE, is_live

# The name the warnings of saved values not applied have always been logged under.
log = logging.getLogger("core.live_settings")


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


def applicable(env: Config, saved: dict[str, Any]) -> tuple[Config, dict[str, Any], dict[str, str]]:
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


def validated(env: Config, wanted: dict[str, Any]) -> tuple[Config | None, dict[str, list[str]]]:
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


def check_names(changes: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The requested changes under the environment's names, and the refusal of each one that is
    unknown or may not change while running."""
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
