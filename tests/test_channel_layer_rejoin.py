"""A socket left open longer than the layer's group expiry stays subscribed: the consumer joins the
`fleet` group again periodically (here with a layer whose memberships expire after 1 s)."""

import asyncio
from types import SimpleNamespace

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from core.notify import GROUP
from panel import consumers

# The consumer's dispatch closes old database connections (channels.db), which touches the test
# database whichever test ran before in this process.
pytestmark = pytest.mark.django_db

STAFF = SimpleNamespace(is_authenticated=True, is_staff=True)
CHANGE = {"type": "fleet.change", "kind": "engine", "data": {"action": "added"}, "ts": 1.0}


@pytest.fixture(autouse=True)
def short_lived_groups(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer",
                                           "CONFIG": {"group_expiry": 1}}}


async def change_arrives_after_expiry(user) -> dict | None:
    communicator = WebsocketCommunicator(consumers.FleetConsumer.as_asgi(), "/ws/fleet")
    communicator.scope["user"] = user
    connected, _ = await communicator.connect()
    assert connected
    await asyncio.sleep(2.5)
    await get_channel_layer().group_send(GROUP, CHANGE)
    received = None if await communicator.receive_nothing(timeout=1) else (
        await communicator.receive_json_from())
    await communicator.disconnect()
    return received


def test_open_socket_keeps_receiving_past_the_group_expiry(monkeypatch):
    monkeypatch.setattr(consumers, "REJOIN_EVERY_S", 0.3)
    received = async_to_sync(change_arrives_after_expiry)(STAFF)
    assert received == {"kind": "engine", "data": {"action": "added"}, "ts": 1.0}


def test_without_rejoining_the_membership_would_lapse(monkeypatch):
    monkeypatch.setattr(consumers, "REJOIN_EVERY_S", 3600)
    assert async_to_sync(change_arrives_after_expiry)(STAFF) is None


def test_socket_without_a_staff_user_is_closed():
    async def attempt(user):
        communicator = WebsocketCommunicator(consumers.FleetConsumer.as_asgi(), "/ws/fleet")
        communicator.scope["user"] = user
        return await communicator.connect()

    for user in (SimpleNamespace(is_authenticated=False, is_staff=False),
                 SimpleNamespace(is_authenticated=True, is_staff=False)):
        connected, code = async_to_sync(attempt)(user)
        assert (connected, code) == (False, consumers.NOT_STAFF)
