"""Every bad input of the streams API gets a clear 4xx JSON answer, never a 500, and changes nothing."""

import pytest

from core.models import Counter
from engines.models import Engine
from streams.models import Stream
from tests.support.stream_events import engine_record, fake_started

pytestmark = pytest.mark.django_db(transaction=True)

PORT = 20001


@pytest.fixture
def engine(db):
    return engine_record(PORT)


def assert_refused(response, status=422, mentions=""):
    assert response.status_code == status, response.content
    detail = response.json()["detail"]
    assert detail
    assert mentions in str(detail)


def assert_nothing_recorded():
    assert not Stream.objects.exists()
    assert Engine.objects.filter(managed=False).count() == 0
    assert not Counter.objects.filter(name="orch_events_started_total").exists()


def test_unknown_key_type(api, engine):
    body = fake_started(PORT)
    body["stream"]["key_type"] = "torrent"
    assert_refused(api.post("/events/stream_started", body), mentions="key_type")
    assert_nothing_recorded()


@pytest.mark.parametrize("field", ["playback_session_id", "stat_url", "command_url", "is_live"])
def test_missing_session_field(api, engine, field):
    body = fake_started(PORT)
    del body["session"][field]
    assert_refused(api.post("/events/stream_started", body), mentions=field)
    assert_nothing_recorded()


def test_missing_engine(api, engine):
    body = fake_started(PORT)
    del body["engine"]
    assert_refused(api.post("/events/stream_started", body), mentions="engine")


@pytest.mark.parametrize("value", ["yes", "1", 2, -1, 1.5, None])
def test_is_live_not_an_int(api, engine, value):
    body = fake_started(PORT)
    body["session"]["is_live"] = value
    assert_refused(api.post("/events/stream_started", body), mentions="is_live")
    assert_nothing_recorded()


@pytest.mark.parametrize("url", [
    "http://10.0.0.7:20001/ace/stat/k1/s1",          # another host
    "http://169.254.169.254:20001/latest/meta-data",  # cloud metadata
    "http://localhost:20002/ace/stat/k1/s1",         # another port on a loopback name
    "http://localhost/ace/stat/k1/s1",               # no port: 80
    "https://localhost:20001/ace/stat/k1/s1",        # not plain http
    "file:///etc/passwd",
    "http://user:pw@localhost:20001/ace/stat",       # credentials
    "http://localhost:99999/ace/stat",               # no valid port at all
    "http://[::1:20001/ace/stat",                    # broken IPv6 brackets
    "http://localhost:20001/ace/stat/k1 s1",         # a space
    "http://localhost:20001/ace/stat/\x00",          # a NUL
    "not a url",
])
def test_stat_url_elsewhere_is_refused(api, engine, url):
    body = fake_started(PORT)
    body["session"]["stat_url"] = url
    assert_refused(api.post("/events/stream_started", body), mentions="stat_url")
    assert_nothing_recorded()


def test_command_url_elsewhere_is_refused(api, engine):
    body = fake_started(PORT)
    body["session"]["command_url"] = "http://example.com:20001/ace/cmd/k1/s1"
    assert_refused(api.post("/events/stream_started", body), mentions="command_url")
    assert_nothing_recorded()


def test_external_engine_at_a_malformed_address(api):
    body = fake_started(7000, host="[")
    body["session"]["stat_url"] = "http://[:7000/ace/stat/k1/s1"
    assert_refused(api.post("/events/stream_started", body))
    assert_nothing_recorded()


def test_external_engine_urls_must_stay_on_its_own_address(api, orch):
    orch(EXTERNAL_ENGINE_HOSTS=("192.168.1.20",))
    body = fake_started(7000, host="192.168.1.20")
    body["session"]["stat_url"] = "http://192.168.1.21:7000/ace/stat/k1/s1"
    assert_refused(api.post("/events/stream_started", body), mentions="stat_url")
    assert_nothing_recorded()


def test_external_engines_only_on_allowed_hosts(api):
    body = fake_started(7000, host="10.1.2.3")
    assert_refused(api.post("/events/stream_started", body), mentions="EXTERNAL_ENGINE_HOSTS")
    assert_nothing_recorded()


@pytest.mark.parametrize("change", [
    {"stream": {"key_type": "infohash", "key": "k" * 901}},
    {"stream": {"key_type": "infohash", "key": ""}},
    {"engine": {"host": "localhost", "port": 0}},
    {"engine": {"host": "bad host/name", "port": PORT}},
    {"container_id": "x" * 200},
    {"labels": {"stream_id": "x" * 2000}},
    {"labels": {f"k{i}": "v" for i in range(101)}},
    {"stream": {"key_type": "infohash", "key": "k\x00"}},
])
def test_oversized_or_malformed_fields(api, engine, change):
    assert_refused(api.post("/events/stream_started", fake_started(PORT, **change)))
    assert_nothing_recorded()


@pytest.mark.parametrize("body", ["[1, 2]", "{", '"text"'])
def test_body_that_is_not_an_event(api, engine, body):
    assert api.post("/events/stream_started", body).status_code in (400, 422)


def test_stream_ended_without_ids(api, engine):
    assert_refused(api.post("/events/stream_ended", {"reason": "handler_exit"}),
                   mentions="stream_id")
    assert_refused(api.post("/events/stream_ended", {"stream_id": "", "container_id": ""}))


def test_streams_with_another_status(api):
    assert_refused(api.get("/streams?status=running"), mentions="status")


@pytest.mark.parametrize("since", ["yesterday", "2026-13-40T99:00:00", "2026-11-26T10:00:00+25:00"])
def test_since_unparsable(api, engine, since):
    api.post("/events/stream_started", fake_started(PORT))
    assert_refused(api.get("/streams/k1|s1/stats", data={"since": since}), mentions="since")


def test_stats_of_unknown_stream(api):
    assert_refused(api.get("/streams/nope|nothing/stats"), status=404, mentions="nope")


@pytest.mark.parametrize("path", ["/streams?container_id=a%00b", "/engines/a%00b",
                                  "/streams/k%00x/stats", "/by-label?key=a&value=%00"])
def test_nul_bytes_in_the_path_or_query_are_refused_before_any_view(api, path):
    response = api.get(path)
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]
