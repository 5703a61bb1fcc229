"""GET /proxy/status: every content the orchestrator plays, from the rows its playing process
keeps current (playback.registry), whichever process answers."""

from datetime import datetime

from ninja import Router, Schema

from ..models import PlayedContent

router = Router(tags=["playback"])


class PlayedContentOut(Schema):
    key: str
    state: str
    engine: str
    stream_id: str
    players: int
    bytes_sent: int
    since: datetime
    failovers: dict[str, int]
    cut_off: int
    updated: datetime


class ProxyStatusOut(Schema):
    contents: list[PlayedContentOut]
    players: int


@router.get("/proxy/status", response=ProxyStatusOut)
def proxy_status(request):
    contents = list(PlayedContent.objects.all())
    return {"contents": contents, "players": sum(content.players for content in contents)}
