"""Operators' requests to the process that plays the contents (its registry listens on the
channel layer): from the admin or the API of any process."""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

ACTIONS = ("stop", "move")
CONTROL_GROUP = "playback-control"


def send(action: str, key: str) -> None:
    """Ask the playback owner to stop a content, or move it to another engine (a failover on
    demand). Best effort: the owner acts on it within moments if it plays that content."""
    if action not in ACTIONS:
        raise ValueError(f"unknown playback action {action!r}")
    async_to_sync(get_channel_layer().group_send)(
        CONTROL_GROUP, {"type": "playback.control", "action": action, "key": key})
