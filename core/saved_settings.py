"""Reading the live values saved in the database and laying them over the environment's: `layer()`
builds what conf() answers from (core/config_cache.py), reading the rows again only when their
revision moved, never on an event loop (a thread of its own reads them there), and leaving out,
with a warning, the saved values the environment no longer allows.

Apart from core/config_cache.py because it needs the models, which cannot load while Django's
settings import core.config; that module imports this one at its first refresh. `layer` is also
importable from core.live_settings.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

from django.db import connection, transaction

from .config import Config
from .config_cache import SAVED_REFRESH_S, Layered, reread
from .models import Setting, SettingsRevision
from .setting_fields import LIVE
from .settings_validation import applicable

# The name the saved values' read failures have always been logged under.
log = logging.getLogger("core.live_settings")


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
        config, _, ignored = applicable(env, previous.saved)
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
    config, _, ignored = applicable(env, saved)
    return Layered(env, revision, saved, ignored, config, now)
