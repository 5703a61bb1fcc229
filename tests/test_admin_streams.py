"""Streams in the admin: latest stats inline, searchable; stopping a stream asks the operator
first, then its engine through the command URL, then ends it; stats and streams are read-only."""

import re

import httpx
import pytest

from streams.collector import collect_pass
from streams.models import Stream
from tests.support.stream_events import acexy_started, play, provision

pytestmark = [pytest.mark.docker, pytest.mark.django_db(transaction=True)]

CHANGELIST = "/admin/streams/stream/"


def started_stream(api, key: str) -> Stream:
    port = provision(api)["host_http_port"]
    response = api.post("/events/stream_started", acexy_started(play(port, key), port, key))
    assert response.status_code == 200, response.content
    return Stream.objects.get(pk=response.json()["id"])


def test_stop_asks_the_engine_then_ends_the_stream(admin_client, api, fleet):
    stream = started_stream(api, "ch-stop")
    stat_url = stream.stat_url.replace("localhost", "127.0.0.1")
    assert httpx.get(stat_url, timeout=5).json()["error"] is None

    selected = {"action": "stop_selected", "_selected_action": [stream.pk]}
    confirm = admin_client.post(CHANGELIST, selected).content.decode()
    assert "Stop these 1 streams?" in confirm and "1 of them are started" in confirm
    assert 'name="post" value="yes"' in confirm
    stream.refresh_from_db()
    assert stream.status == "started"  # asked, not done
    response = admin_client.post(CHANGELIST, {**selected, "post": "yes"}, follow=True)
    assert "Stopped 1 stream(s)." in response.content.decode()
    stream.refresh_from_db()
    assert (stream.status, stream.ended_reason) == ("ended", "manual_stop")
    assert httpx.get(stat_url, timeout=5).json()["response"] is None  # the engine ended the session


def test_engine_that_cannot_confirm_still_has_the_stream_ended(admin_client, api, fleet):
    stream = started_stream(api, "ch-gone")
    fleet.containers.get(stream.container_id).remove(force=True)
    response = admin_client.post(CHANGELIST, {"action": "stop_selected", "post": "yes",
                                              "_selected_action": [stream.pk]}, follow=True)
    assert "the engine could not be asked: ConnectError" in response.content.decode()
    stream.refresh_from_db()
    assert stream.status == "ended"


def test_change_page_shows_the_latest_stats_and_is_read_only(admin_client, api, fleet):
    stream = started_stream(api, "ch-stats")
    collect_pass()
    collect_pass()
    page = admin_client.get(f"{CHANGELIST}{stream.pk}/change/").content.decode()
    assert "Latest stats (newest 20)" in page
    assert len(re.findall(r'class="field-status">\s*<p>dl</p>', page)) == 2
    assert 'name="key"' not in page and "Save" not in page

    listing = admin_client.get(CHANGELIST + "?q=ch-stats").content.decode()
    assert "ch-stats" in listing and "started" in listing
    assert admin_client.get(CHANGELIST + "add/").status_code == 403
    assert admin_client.get("/admin/streams/statsnapshot/?q=ch-stats").status_code == 200
