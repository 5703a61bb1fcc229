"""stream_ended: every reason either acexy sends is accepted and stored as sent; an unknown
stream id ends nothing."""

import pytest

from streams.models import Stream
from tests.support.stream_events import engine_record, fake_started

pytestmark = pytest.mark.django_db

# acexy of December 2025, then the older build's reasons.
REASONS = ("completed", "empty_timeout", "client_disconnected", "timeout", "network_error", "eof",
           "closed_pipe", "closed_connection", "buffer_error", "memory_error", "error",
           "handler_exit", "panic", "start_stream_failed", "fetch_stream_failed")


@pytest.mark.parametrize("reason", REASONS)
def test_every_reason_is_stored(api, reason):
    engine_record(20021)
    stream = api.post("/events/stream_started", fake_started(20021, session_id=reason)).json()
    body = api.post("/events/stream_ended", {"stream_id": stream["id"], "reason": reason}).json()
    assert body["updated"] is True and body["stream"]["ended_reason"] == reason
    assert Stream.objects.get(pk=stream["id"]).ended_reason == reason


def test_an_unknown_stream_id_ends_nothing(api):
    engine_record(20022)
    api.post("/events/stream_started", fake_started(20022))
    # acexy's `<key>|fetch_failed` for a stream the engine refused before it started.
    body = api.post("/events/stream_ended", {"stream_id": "k1|fetch_failed",
                                             "reason": "fetch_stream_failed"}).json()
    assert body == {"updated": False, "stream": None}
    assert Stream.objects.started().count() == 1
