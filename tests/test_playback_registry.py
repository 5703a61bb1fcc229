"""The registry's hub for a content: the one playing it, or a new one when that hub no longer
admits players (closing its session, closed or failed), so a player arriving while the last
one's session is being stopped gets a fresh session instead of an error."""

import asyncio

import pytest

from playback import registry as registry_module
from playback.content import Content
from playback.hub import Hub

pytestmark = pytest.mark.django_db

CONTENT = Content("id", "c" * 40)


def registry_with(hub: Hub | None) -> registry_module.Registry:
    registry = registry_module.Registry()
    registry._recovered.set()  # nothing of an earlier run to end here
    if hub is not None:
        registry.hubs[CONTENT.key] = hub
    return registry


async def never_started(attempt, avoid):
    raise AssertionError("no session is started by hub_for")


def test_the_playing_hub_is_shared():
    async def scenario():
        playing = Hub(CONTENT.key, never_started)
        assert await registry_with(playing).hub_for(CONTENT) is playing

    asyncio.run(scenario())


def test_a_hub_that_admits_nobody_is_replaced():
    async def scenario():
        closing = Hub(CONTENT.key, never_started)
        closing._terminal = True  # what close() and the end of a linger set first
        registry = registry_with(closing)
        fresh = await registry.hub_for(CONTENT)
        assert fresh is not closing and fresh.accepts_players
        assert registry.hubs[CONTENT.key] is fresh

    asyncio.run(scenario())
