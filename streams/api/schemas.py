from datetime import datetime

from ninja import Schema


class StreamState(Schema):
    id: str
    key_type: str
    key: str
    container_id: str
    playback_session_id: str
    stat_url: str
    command_url: str
    is_live: bool
    started_at: datetime
    ended_at: datetime | None
    status: str
    ended_reason: str
    labels: dict[str, str]
