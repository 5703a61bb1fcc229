"""A clock for the age of a process's copy of the saved settings (core.config_cache), moved by
the test only. Modules load the fixture with `pytest_plugins = ["tests.support.clock"]`."""

import time

import pytest


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
