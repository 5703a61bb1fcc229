"""conf() on an event loop (the playback routes, Channels consumers), where Django refuses
database reads: it answers from the process's copy at once, and a thread of its own reads the
saved values, in force from the next call on."""

import asyncio
import threading
import time

import pytest

from core import config, saved_settings
from core.config import conf
from core.models import Setting, SettingsRevision

pytestmark = pytest.mark.django_db(transaction=True)
pytest_plugins = ["tests.support.clock"]


def test_conf_on_an_event_loop_never_blocks_and_follows_a_change(orch, monkeypatch,
                                                                saved_settings_clock):
    orch(MIN_REPLICAS=0)
    assert conf().MIN_REPLICAS == 0
    # Written by another process, as far as this one knows.
    Setting.objects.create(name="MIN_REPLICAS", value=3, saved_at="2026-01-01T00:00:00Z")
    SettingsRevision.objects.create(pk=1, number=7)
    saved_settings_clock.now += config.SAVED_REFRESH_S  # the copy is old: the next look reads

    # The read of the saved values is held back until the loop has had its answers: a conf()
    # that waited for that read would hold the loop until the hold times out.
    release, held_out, asked = threading.Event(), threading.Event(), threading.Event()
    read_revision = saved_settings._read_revision

    def held_read():
        asked.set()
        if not release.wait(10):
            held_out.set()
        return read_revision()

    monkeypatch.setattr(saved_settings, "_read_revision", held_read)

    async def watch() -> list[int]:
        seen = [conf().MIN_REPLICAS for _ in range(3)]  # answered while the read is held
        release.set()
        deadline = time.monotonic() + config.SAVED_REFRESH_S + 10
        while seen[-1] != 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            seen.append(conf().MIN_REPLICAS)
        return seen

    seen = asyncio.run(watch())
    assert asked.is_set() and not held_out.is_set(), "conf() on the event loop waited for the database"
    assert seen[:3] == [0, 0, 0] and seen[-1] == 3
