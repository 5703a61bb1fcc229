"""The live settings over HTTP (SPEC "Runtime settings"); the API's key applies to every route.

    GET    /settings             every setting: name, value, environment, source, live, topic, help
    PATCH  /settings             {"min_replicas": 2, "engine_grace_period_s": null, ...}: null resets
    DELETE /settings/{name}      back to the environment's value
    GET    /settings/export      the saved values, {"min_replicas": 2, ...}
    POST   /settings/import      the same object: the saved values become exactly these
    GET    /settings/history     the latest changes, newest first
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ninja import Router, Schema

from . import live_settings
from .errors import InvalidInput
from .models import SettingChange

router = Router(tags=["settings"])

_OBJECT_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "additionalProperties": True,
    "example": {"min_replicas": 2, "engine_grace_period_s": None}}}}}}


class SettingOut(Schema):
    name: str
    value: Any
    environment: Any
    source: str
    live: bool
    topic: str
    help: str
    saved_by: str | None = None
    saved_at: datetime | None = None
    not_applied: str | None = None


class ChangeOut(Schema):
    at: datetime
    who: str
    name: str
    old_value: Any
    new_value: Any
    reset: bool
    source: str


def who(request) -> str:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and not request.headers.get("Authorization"):
        return user.get_username()
    return "api key"


def _object_body(request) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("the body must be a JSON object of setting names to values") from None
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object of setting names to values")
    return body


@router.get("/settings", response=list[SettingOut])
def list_settings(request):
    """Each setting, its value in force and where it comes from ("saved", "environment" or
    "default"); `live` ones change without a restart, the others are listed read-only (secrets
    masked)."""
    return live_settings.describe()


@router.patch("/settings", response=list[SettingOut], openapi_extra=_OBJECT_BODY)
def change_settings(request):
    """Save live settings (lower-case names, JSON values; null returns one to the environment).
    Validated like start-up, on the combination with the other values: 422 names every bad
    field and nothing changes. A value equal to the environment's clears the saved one."""
    live_settings.apply(_object_body(request), who=who(request), source=SettingChange.Source.API)
    return live_settings.describe()


@router.get("/settings/export", response=dict[str, Any])
def export_settings(request):
    """The saved values, as POST /settings/import takes them."""
    return live_settings.export()


@router.post("/settings/import", response=list[SettingOut],
             openapi_extra=_OBJECT_BODY)
def import_settings(request):
    """The saved values become exactly the given ones (what GET /settings/export wrote); the
    settings left out return to the environment. Validated like PATCH, all or nothing."""
    live_settings.apply(_object_body(request), who=who(request), source=SettingChange.Source.IMPORT,
                        replace=True)
    return live_settings.describe()


@router.get("/settings/history", response=list[ChangeOut])
def settings_history(request, limit: int = 50):
    """The latest changes of live settings, newest first."""
    changes = live_settings.history(max(1, min(limit, 500)))
    for change in changes:
        change.name = change.name.lower()
    return changes


# Last: Django matches paths in order, and /settings/{name} would take /settings/export.
@router.delete("/settings/{name}", response=list[SettingOut])
def reset_setting(request, name: str):
    """Back to the environment's value."""
    live_settings.reset(name, who=who(request), source=SettingChange.Source.API)
    return live_settings.describe()
