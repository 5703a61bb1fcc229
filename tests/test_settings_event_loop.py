"""conf() on an event loop (the playback routes, Channels consumers), where Django refuses
database reads: it answers from the process's copy at once, and a thread of its own reads the
saved values, in force from the next call on."""

import asyncio
import time

import pytest

from core import config
from core.config import conf
from core.models import Setting, SettingsRevision

pytestmark = pytest.mark.django_db(transaction=True)


def test_conf_on_an_event_loop_never_blocks_and_follows_a_change(orch):
    orch(MIN_REPLICAS=0)
    assert conf().MIN_REPLICAS == 0
    # Written by another process, as far as this one knows.
    Setting.objects.create(name="MIN_REPLICAS", value=3, saved_at="2026-01-01T00:00:00Z")
    SettingsRevision.objects.create(pk=1, number=7)

    async def watch() -> list[int]:
        seen = []
        deadline = time.monotonic() + config.SAVED_REFRESH_S + 3
        while time.monotonic() < deadline:
            began = time.monotonic()
            seen.append(conf().MIN_REPLICAS)
            assert time.monotonic() - began < 0.05  # no database read on the loop
            if seen[-1] == 3:
                break
            await asyncio.sleep(0.05)
        return seen

    seen = asyncio.run(watch())
    assert seen[0] == 0 and seen[-1] == 3
