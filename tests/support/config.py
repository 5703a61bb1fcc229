"""The configuration as start-up would read it from a given environment, and a clock for the age
of a process's copy of the saved values."""

import os
import time
from unittest import mock

import pytest

from core.config import Config, load_config


def config_from(environ: dict[str, str]) -> Config:
    """`load_config()` with exactly these variables set (pydantic-settings reads os.environ)."""
    with mock.patch.dict(os.environ, environ, clear=True):
        return load_config()


class Clock:
    """Stands for the `time` module where conf() counts its copy's age: moved by the test only."""

    def __init__(self):
        self.now = time.monotonic()

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def saved_settings_clock(monkeypatch) -> Clock:
    """conf()'s copy of the saved values ages only when the test moves this clock."""
    from core import config_cache, saved_settings

    clock = Clock()
    monkeypatch.setattr(config_cache, "time", clock)
    monkeypatch.setattr(saved_settings, "time", clock)
    return clock
