"""Loaded with `-p tests.environment` before Django reads its settings: gives this test run its
own data folder, container label, name prefix and port block, so runs never touch each other's
containers (or a real orchestrator's) on a shared Docker engine."""

import fcntl
import os
import random
import tempfile

RUN_ID = f"{os.getpid()}x{random.randrange(16**4):04x}"
RUN_LABEL_KEY = "orchestrator.test"
DATA_DIR = tempfile.mkdtemp(prefix=f"orch-test-{RUN_ID}-")
# 40 blocks of 250 host ports between 20000 and 29999 (container-side ranges sit above 50000).
# A run holds a lock on its block for its whole life, so concurrent runs never share one.
BLOCKS = 40


def _claim_block() -> tuple[int, object]:
    for block in random.sample(range(BLOCKS), BLOCKS):
        handle = open(os.path.join(tempfile.gettempdir(), f"orch-test-ports-{block}.lock"), "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        return block, handle
    raise RuntimeError(f"all {BLOCKS} test port blocks are taken by other runs")


_block, _BLOCK_LOCK = _claim_block()
HOST_PORTS = (20000 + _block * 250, 20000 + _block * 250 + 249)

TEST_ENV = {
    "DATA_DIR": DATA_DIR,
    "API_KEY": "test-key-0123456789",
    "CONTAINER_LABEL": f"{RUN_LABEL_KEY}={RUN_ID}",
    "ENGINE_NAME_PREFIX": f"t{RUN_ID}-ace",
    "PORT_RANGE_HOST": f"{HOST_PORTS[0]}-{HOST_PORTS[1]}",
    "ACE_HTTP_RANGE": "50000-54999",
    "ACE_HTTPS_RANGE": "55000-59999",
    "PORT_BIND_IP": "127.0.0.1",
    "ENGINE_HOST": "127.0.0.1",
    "MIN_REPLICAS": "0",
    "MAX_REPLICAS": "60",
    "HEALTH_CHECK_TIMEOUT_S": "2",
    # scripts/test.sh runs four pytest workers on one dockerd: bursts of 50 container starts from
    # two of them at once can hold one Docker call beyond the default 20 s on 2 cores, and keep
    # a freshly started simulator from answering get_status within 15 s. Both are deadlines: an
    # engine that answers ends the wait at once.
    "DOCKER_TIMEOUT_S": "60",
    "STARTUP_TIMEOUT_S": "60",
    "ADMIN_USERNAME": "admin",
    "ADMIN_PASSWORD": "admin-pass-for-tests",
}
# TEST_DATABASE_URL=postgres://... runs the tests on that PostgreSQL server instead of SQLite
# (tests/support/postgres.py gives each test run and each live orchestrator a database of its own).
if os.environ.get("TEST_DATABASE_URL"):
    TEST_ENV["DATABASE_URL"] = os.environ["TEST_DATABASE_URL"]
for _name in ("GLUETUN_CONTAINER_NAME", "GLUETUN_API_URL", "REDIS_URL", "DATABASE_URL",
              "METRICS_TOKEN"):
    os.environ.pop(_name, None)
os.environ.update(TEST_ENV)
