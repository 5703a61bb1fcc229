"""The Redis channel layer as settings configure it survives an idle wait longer than
channels-redis's blocking read: a panel socket with nothing to say for a while stays open."""

import asyncio

import pytest
from channels_redis.core import RedisChannelLayer

from orchestrator_site.settings import redis_channel_layer

pytest_plugins = ["tests.support.redis"]


async def idle_then_deliver(layer: RedisChannelLayer) -> dict:
    """Wait on an empty channel past one blocking read, then receive what is sent after it."""
    channel = await layer.new_channel()
    waiting = asyncio.ensure_future(layer.receive(channel))
    # Nothing to wait for but time itself: the failure looked for is the layer's own read timing
    # out (redis.exceptions.TimeoutError, raised out of this wait) while the channel is idle.
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(asyncio.shield(waiting), timeout=layer.brpop_timeout + 2)
    await layer.send(channel, {"type": "fleet.changed"})
    return await asyncio.wait_for(waiting, timeout=10)


@pytest.mark.slow
def test_an_idle_receive_outlasts_the_blocking_read_and_then_delivers(redis_url):
    layer = RedisChannelLayer(**redis_channel_layer(redis_url)["CONFIG"])
    try:
        assert asyncio.run(idle_then_deliver(layer)) == {"type": "fleet.changed"}
    finally:
        asyncio.run(layer.flush())
