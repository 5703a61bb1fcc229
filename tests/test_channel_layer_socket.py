"""The fleet socket across processes: a `notify()` made in one process reaches a staff browser's
socket served by daphne in another, through the embedded SQLite layer and through Redis; sockets
without a staff session or from a foreign origin are refused."""

import json
import threading
import time

import pytest
from websockets.exceptions import InvalidStatus

from tests.support.live import Orchestrator
from tests.support.sockets import open_socket, staff_cookie

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]
pytest_plugins = ["tests.support.redis"]

# The first announcement of a process also opens its layer connection; the second is timed.
ANNOUNCE = (
    "from core.notify import notify, wait_until_sent\n"
    "notify('engine', action='warm-up')\n"
    "assert wait_until_sent()\n"
    "notify('engine', action='added', engine={name!r})\n"
    "assert wait_until_sent()\n"
)


def receive_announcement(orch: Orchestrator, name: str) -> float:
    """Announce from a separate `manage.py shell` process; seconds from notify() to the socket,
    printed only: the tests check that it arrives, bench/panel.py how fast."""
    with open_socket(orch, staff_cookie(orch)) as socket:
        # Read while the other process runs, so the time taken is the delivery, not its exit.
        announcer = threading.Thread(target=orch.manage, args=("shell", "-c", ANNOUNCE.format(name=name)))
        announcer.start()
        assert json.loads(socket.recv(timeout=20))["data"] == {"action": "warm-up"}
        message = json.loads(socket.recv(timeout=10))
        received = time.time()
        announcer.join()
    assert message["kind"] == "engine"
    assert message["data"] == {"action": "added", "engine": name}
    return received - message["ts"]


@pytest.fixture(scope="module")
def embedded():
    """Web process only, with the default SQLite channel layer and a strict host list."""
    orch = Orchestrator(env={"ALLOWED_HOSTS": "127.0.0.1,localhost"}, processes=("web",))
    orch.start()
    yield orch
    orch.stop()


@pytest.fixture(scope="module")
def with_redis(redis_url):
    orch = Orchestrator(env={"REDIS_URL": redis_url}, processes=("web",))
    # With Redis there is no `channels` database to migrate.
    orch.manage("migrate", "--no-input", "-v0")
    orch.manage("setupfleet")
    orch.start(migrate=False)
    yield orch
    orch.stop()


def test_notify_from_another_process_reaches_the_socket_through_sqlite(embedded):
    latency = receive_announcement(embedded, "ace-sqlite")
    print(f"sqlite layer: notify() to socket in {latency * 1000:.0f} ms")


def test_notify_from_another_process_reaches_the_socket_through_redis(with_redis):
    latency = receive_announcement(with_redis, "ace-redis")
    print(f"redis layer: notify() to socket in {latency * 1000:.0f} ms")


def test_anonymous_socket_is_refused(embedded):
    with pytest.raises(InvalidStatus) as refused:
        open_socket(embedded)
    assert refused.value.response.status_code == 403


# The admin's login form admits staff only, so the non-staff session is made directly.
NON_STAFF_SESSION = """
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
user = User.objects.create_user('viewer', password='viewer-pass-1')
session = SessionStore()
session.update({SESSION_KEY: str(user.pk), HASH_SESSION_KEY: user.get_session_auth_hash(),
                BACKEND_SESSION_KEY: 'django.contrib.auth.backends.ModelBackend'})
session.create()
print(session.session_key)
"""


def test_socket_of_a_non_staff_user_is_refused(embedded):
    key = embedded.manage("shell", "-c", NON_STAFF_SESSION).stdout.split()[-1]
    with pytest.raises(InvalidStatus) as refused:
        open_socket(embedded, f"sessionid={key}")
    assert refused.value.response.status_code == 403


def test_socket_from_a_foreign_origin_is_refused(embedded):
    with pytest.raises(InvalidStatus) as refused:
        open_socket(embedded, staff_cookie(embedded), origin="http://evil.example")
    assert refused.value.response.status_code == 403


def test_an_operator_command_announces_its_change_before_it_exits(embedded, engine_image):
    with open_socket(embedded, staff_cookie(embedded)) as socket:
        embedded.manage("provision", "--image", engine_image)
        message = json.loads(socket.recv(timeout=20))
    assert message["kind"] == "engine" and message["data"]["action"] == "added"
