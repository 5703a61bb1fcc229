"""Two orchestrators (each a web and a worker) on one PostgreSQL database and one Redis, as a user
who outgrows one host runs them behind a load balancer: one reconcile at a time, no engine
started twice, the cap held across both, events accepted by either, and a panel served by one
sees what the other did."""

import json
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import postgres_only
from tests.support.events import wait_for
from tests.support.live import Orchestrator
from tests.support.sockets import open_socket, staff_cookie
from tests.support.stream_events import acexy_started, play

pytestmark = [pytest.mark.docker, pytest.mark.live, pytest.mark.slow, postgres_only]
pytest_plugins = ["tests.support.redis"]

RECONCILE = "from engines import jobs; jobs.reconcile()"


SHARED_KEY = "one-secret-key-for-both-orchestrators-0123456789"


@contextmanager
def two_orchestrators(env: dict[str, str], second_key: str = SHARED_KEY):
    first = Orchestrator(env={**env, "SECRET_KEY": SHARED_KEY}).start()
    second = Orchestrator(env={**env, "SECRET_KEY": second_key,
                               "DATABASE_URL": first.env["DATABASE_URL"]})
    try:
        second.start(migrate=False)
        yield first, second
    finally:
        second.stop()
        first.stop()


@pytest.fixture
def pair(fleet, engine_image, redis_url):
    # One SECRET_KEY, as the README asks: tasks in the shared queue are signed with it, and a
    # worker refuses (BadSignature) a task another orchestrator signed with a key of its own.
    env = {"TARGET_IMAGE": engine_image, "REDIS_URL": redis_url, "MIN_REPLICAS": "2",
           "MAX_REPLICAS": "6", "COLLECT_INTERVAL_S": "1"}
    with two_orchestrators(env) as both:
        yield both


def containers(fleet, orchestrator) -> list:
    return fleet.containers.list(all=True, filters={"label": orchestrator.env["CONTAINER_LABEL"]})


def test_one_fleet_behind_two_orchestrators(pair, fleet):
    first, second = pair
    with first.client() as a, second.client() as b:
        # MIN_REPLICAS is kept once, whichever worker's schedule runs, and passes of both at once
        # (four here) do not overshoot it.
        wait_for(lambda: len(a.get("/engines").json()) == 2, timeout=60, interval=0.5)
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda side: side.manage("shell", "-c", RECONCILE),
                          (first, second, first, second)))
        assert len(b.get("/engines").json()) == 2
        assert len(containers(fleet, first)) == 2

        # Ten provisions spread over both: exactly the four places left under the cap of six.
        with ThreadPoolExecutor(max_workers=10) as pool:
            answers = list(pool.map(
                lambda number: (a if number % 2 else b).post(
                    "/provision/acestream", json={"labels": {}, "env": {}}), range(10)))
        codes = sorted(answer.status_code for answer in answers)
        assert codes == [200] * 4 + [503] * 6, [answer.text for answer in answers]
        assert all(answer.json()["detail"]["code"] == "max_capacity"
                   for answer in answers if answer.status_code == 503)
        engines = a.get("/engines").json()
        assert len(engines) == 6 == len(containers(fleet, first))
        assert len({e["port"] for e in engines}) == 6
        assert len({e["container_name"] for e in engines}) == 6

        # An event through one, its end through the other; a panel on the second sees the first.
        port = engines[0]["port"]
        with open_socket(second, staff_cookie(second)) as socket:
            stream = a.post("/events/stream_started",
                            json=acexy_started(play(port, "shared"), port, "shared")).json()
            message = wait_for(lambda: _next_stream_message(socket), timeout=20)
        assert message["data"]["streams"] == [stream["id"]]
        assert [s["id"] for s in b.get("/streams", params={"status": "started"}).json()] == [
            stream["id"]]
        assert b.post("/events/stream_ended", json={"stream_id": stream["id"]}).json()["updated"]
        assert a.get("/streams", params={"status": "started"}).json() == []


def _next_stream_message(socket) -> dict | None:
    message = json.loads(socket.recv(timeout=20))
    return message if message["kind"] == "stream" else None


def test_each_loop_runs_in_one_worker_at_a_time(pair):
    """Both workers run the collector loop; its lease keeps all passes in one of them: renewed
    pass after pass by the same holder, never taken over by the other worker."""
    import psycopg

    from core.models import Lease

    first, _ = pair
    workers = {side.children["worker"].pid for side in pair}

    def lease():
        with psycopg.connect(first.env["DATABASE_URL"]) as connection:
            return connection.execute(f"SELECT holder, expires_at FROM {Lease._meta.db_table} "
                                      "WHERE name = 'collector'").fetchone()

    holder, expires = wait_for(lease, timeout=30, interval=0.2)
    assert int(holder.split(":")[1]) in workers
    for _ in range(5):
        now_holder, expires = wait_for(lambda since=expires: (row := lease()) and row[1] > since
                                       and row, timeout=15, interval=0.1)
        assert now_holder == holder


def test_an_orchestrator_with_another_key_is_named_by_the_other(fleet, engine_image, redis_url):
    env = {"TARGET_IMAGE": engine_image, "REDIS_URL": redis_url}
    with two_orchestrators(env, second_key="a-key-of-its-own-0123456789-0123456789-01") as (
            first, second):
        named = f"orchestrator {(Path(first.data_dir) / 'instance-id').read_text().strip()} on "
        wait_for(lambda: f"{named}" in second.logs("worker"), timeout=30, interval=0.2)
        assert "uses another SECRET_KEY" in second.logs("worker")
