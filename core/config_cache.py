"""This process's copy of the configuration in force, behind `conf()`: the environment's values
(`settings.ORCH`) with the live values saved in the database over them, and when to read those
again (a revision number, looked at no more than once every SAVED_REFRESH_S).

Apart from core/config.py, which declares the settings, because this is state and locking rather
than declarations; it reads the database through core/saved_settings.py, imported only when
first needed, since Django's settings import core.config before the models can load. Every name
here is also importable from core.config, where callers import it.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, NamedTuple

from django.conf import settings

if TYPE_CHECKING:
    from .config import Config

# How long a process trusts the saved values it read before it asks the database whether they
# changed (one indexed read of a revision number). The process that saves a change forgets its
# copy at once (`forget_saved`).
SAVED_REFRESH_S = 1.0


class Layered(NamedTuple):
    """The configuration in force in this process, and what it was built from."""

    env: Config  # settings.ORCH: the environment's values, read at start
    revision: int | None  # of the saved values (core.models.SettingsRevision), None: none read
    saved: dict[str, Any]  # the saved values read (environment names)
    ignored: dict[str, str]  # those the environment no longer allows, and why: not applied
    config: Config
    checked: float  # time.monotonic() of the last look at the revision


_layered: Layered | None = None
_refreshing = threading.Lock()
_inside = threading.local()


def conf() -> Config:
    """The configuration in force: the environment's (`settings.ORCH`, which tests swap) with the
    live values saved in the database over it. Called many times per request, so it answers from
    this process's copy and asks the database for the saved values' revision at most once every
    SAVED_REFRESH_S; the rows themselves are read again only when the revision moved."""
    env = settings.ORCH
    layered = _layered
    if (layered is not None and layered.env is env
            and time.monotonic() - layered.checked < SAVED_REFRESH_S):
        return layered.config
    return _refresh(env, layered)


def _refresh(env: Config, layered: Layered | None) -> Config:
    global _layered
    if getattr(_inside, "refresh", False):
        return layered.config if layered is not None and layered.env is env else env
    if not _refreshing.acquire(blocking=False):
        # Another thread is reading the database right now: the copy it replaces will do.
        if layered is not None and layered.env is env:
            return layered.config
        _refreshing.acquire()
    _inside.refresh = True
    try:
        from . import saved_settings  # the models: not importable while Django's settings load

        _layered = saved_settings.layer(env, _layered)
        return _layered.config
    finally:
        _inside.refresh = False
        _refreshing.release()


def forget_saved() -> None:
    """Read the saved values again at the next conf() (after a change, and between tests)."""
    global _layered
    _layered = None


def reread() -> Config:
    """conf(), asking the database now whether the saved values changed (waiting for a thread
    that is reading them meanwhile, rather than answering from the copy it replaces)."""
    global _layered
    from . import saved_settings

    with _refreshing:
        _layered = saved_settings.layer(settings.ORCH, _layered)
        return _layered.config


def current_layers() -> Layered:
    """What conf() answers from."""
    conf()
    return _layered or Layered(settings.ORCH, None, {}, {}, settings.ORCH, 0.0)
