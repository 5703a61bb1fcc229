"""Secure by default: without API_KEY the first start generates a key into DATA_DIR/api-key
(0600) and prints it once; a second start keeps it without printing it; rotating it in the admin
is in force for a running web process at once; OPEN_API=true is the only way to an open API, and
is warned about. (The suite itself runs with API_KEY set, tests/environment.py.)"""

import os
import shutil
import tempfile
from pathlib import Path

import httpx
import pytest

from core import api_key
from tests import environment
from tests.support import live

KEY_FILE = "api-key"


def fresh_orchestrator(**env: str) -> live.Orchestrator:
    """Migrated databases in a new data folder, setupfleet not run yet (a first start)."""
    orchestrator = live.Orchestrator(env={"API_KEY": "", **env})
    template = live._migrated_template()
    for name in live.DATABASE_FILES:
        if (template / name).exists():
            shutil.copy(template / name, Path(orchestrator.data_dir) / name)
    return orchestrator


# --- the key in one process --------------------------------------------------------------------

@pytest.fixture
def key_dir(orch):
    folder = Path(tempfile.mkdtemp(dir=environment.DATA_DIR))
    orch(API_KEY=None, OPEN_API=False, DATA_DIR=folder)
    return folder


def test_first_use_generates_a_private_key_and_keeps_it(key_dir):
    assert api_key.source() == "file"
    key, created = api_key.ensure()
    assert created and len(key) >= 40
    assert (key_dir / KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert api_key.ensure() == (key, False)
    assert api_key.current() == key


def test_a_key_written_by_another_process_is_read_at_once(key_dir):
    key = api_key.current()
    # What a rotation in another process does: a new file moved into place.
    other = key_dir / "other"
    other.write_text("written-elsewhere\n")
    os.replace(other, key_dir / KEY_FILE)
    assert api_key.current() == "written-elsewhere" != key
    assert api_key.rotate() == api_key.current() != "written-elsewhere"


def test_a_blank_key_file_is_replaced_not_trusted(key_dir):
    (key_dir / KEY_FILE).write_text("\n")
    key = api_key.current()
    assert key and (key_dir / KEY_FILE).read_text().strip() == key


def test_environment_and_open_api(orch, key_dir):
    orch(API_KEY="from-env")
    assert (api_key.source(), api_key.current()) == ("environment", "from-env")
    orch(API_KEY="from-env", OPEN_API=True)  # a key given wins over the opt-out
    assert api_key.current() == "from-env"
    orch(API_KEY=None, OPEN_API=True)
    assert (api_key.source(), api_key.current()) == ("open", None)
    assert not (key_dir / KEY_FILE).exists()


# --- start-up ---------------------------------------------------------------------------------

@pytest.mark.live
def test_first_start_generates_and_prints_it_the_second_keeps_it():
    orchestrator = fresh_orchestrator()
    first = orchestrator.manage("setupfleet").stdout
    key = (Path(orchestrator.data_dir) / KEY_FILE).read_text().strip()
    assert f"generated the API key {key} (saved in {orchestrator.data_dir}/api-key" in first
    second = orchestrator.manage("setupfleet").stdout
    assert (Path(orchestrator.data_dir) / KEY_FILE).read_text().strip() == key
    assert key not in second and f"API key: kept in {orchestrator.data_dir}/api-key" in second


@pytest.mark.live
def test_open_api_is_warned_at_start_and_no_key_is_made():
    orchestrator = fresh_orchestrator(OPEN_API="true")
    started = orchestrator.manage("setupfleet")
    assert "OPEN_API=true and no API_KEY: the API is open" in started.stdout + started.stderr
    assert "WARNING" in started.stderr  # in the log, not only on the terminal
    assert not (Path(orchestrator.data_dir) / KEY_FILE).exists()


# --- a running orchestrator -------------------------------------------------------------------

def admin_session(base_url: str) -> httpx.Client:
    """Logged in through the admin's form, as an operator's browser is."""
    session = httpx.Client(base_url=base_url, timeout=30)
    session.get("/admin/login/")
    answer = session.post("/admin/login/?next=/admin/", data={
        "username": environment.TEST_ENV["ADMIN_USERNAME"],
        "password": environment.TEST_ENV["ADMIN_PASSWORD"],
        "csrfmiddlewaretoken": session.cookies["csrftoken"], "next": "/admin/"})
    assert answer.status_code == 302, answer.text[-500:]
    return session


def status_with(base_url: str, key: str) -> set[int]:
    """The answers of GET /engines with `key` over several new connections (with two web
    processes, the kernel spreads them over both)."""
    return {httpx.get(f"{base_url}/engines", headers={"Authorization": f"Bearer {key}"},
                      timeout=10).status_code for _ in range(12)}


@pytest.mark.live
@pytest.mark.docker
def test_rotating_in_the_admin_changes_the_key_of_running_web_processes(engine_image):
    orchestrator = live.Orchestrator(env={"API_KEY": "", "WEB_PROCESSES": "2",
                                          "TARGET_IMAGE": engine_image}, processes=("web",))
    orchestrator.start()
    try:
        old = (Path(orchestrator.data_dir) / KEY_FILE).read_text().strip()
        assert status_with(orchestrator.base_url, old) == {200}
        assert httpx.get(f"{orchestrator.base_url}/engines").status_code == 401

        session = admin_session(orchestrator.base_url)
        assert old in session.get("/admin/api-key/").text
        asked = session.get("/admin/api-key/rotate/")
        assert "Write a new API key?" in asked.text
        token = session.cookies["csrftoken"]
        done = session.post("/admin/api-key/rotate/", data={"post": "yes", "csrfmiddlewaretoken": token},
                            headers={"Referer": f"{orchestrator.base_url}/admin/api-key/rotate/"})
        assert done.status_code == 302 and done.headers["Location"] == "/admin/api-key/"
        new = (Path(orchestrator.data_dir) / KEY_FILE).read_text().strip()
        assert new != old and new in session.get("/admin/api-key/").text

        # In force at once, in both web processes: no restart, no waiting.
        assert status_with(orchestrator.base_url, new) == {200}
        assert status_with(orchestrator.base_url, old) == {403}
    finally:
        orchestrator.stop()


# --- behind TLS -------------------------------------------------------------------------------

def cookie_flags(**env: str) -> str:
    orchestrator = live.Orchestrator(env=env)
    script = ("from django.conf import settings; "
              "print(settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE)")
    return orchestrator.manage("shell", "-c", script).stdout.strip().splitlines()[-1]


def test_cookies_are_secure_behind_a_tls_proxy_only():
    assert cookie_flags(CSRF_TRUSTED_ORIGINS="https://orch.example.net") == "True True"
    assert cookie_flags() == "False False"  # plain http on :8000 keeps working
    assert cookie_flags(CSRF_TRUSTED_ORIGINS="http://10.0.0.5:8000") == "False False"
