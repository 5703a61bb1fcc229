"""Code of ours that reaches into another project's private internals stays only where a bench
figure showed the documented way missing a goal (README, "How it works"). Each piece is pinned
to an exact version in requirements.txt, and this test fails when the internal it relies on
changes: the installed version, and the source of every function it calls or copies.

- orchestrator_site/http_handler.py uses Django's ASGIHandler and BaseHandler internals
  (bench/web_handler.py: Django's own handler gave GET /engines a p99 of 90 ms against 33 ms,
  and 66 stream events a second with a p99 of 4 s against 100/s and 25 ms).
- orchestrator_site/task_threads.py runs django-q2's pusher, worker, monitor and scheduler as
  threads and keeps its Sentinel's stop order (bench/fleet.py: qcluster and a loops process
  took 406 MB of PSS at 100 engines against 173 MB, over the 350 MB goal).

To re-pin after an upgrade: read the changed source, adapt our code, run the live tests, then
record the new digests printed by the failure.
"""

import hashlib
import inspect
import re
from importlib.metadata import version
from pathlib import Path

import pytest
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django_q import monitor, pusher, scheduler, worker
from django_q.cluster import Sentinel

REQUIREMENTS = (Path(__file__).resolve().parent.parent / "requirements.txt").read_text()

RELIED_ON = {
    "Django": {
        "ASGIHandler.read_body": (ASGIHandler.read_body, "cf4aa904631d5410"),
        "ASGIHandler.create_request": (ASGIHandler.create_request, "5eae59c6696013ff"),
        "ASGIHandler.send_response": (ASGIHandler.send_response, "77eda2b08689b44e"),
        "BaseHandler.load_middleware": (BaseHandler.load_middleware, "a1fb7ee5f8586195"),
        "BaseHandler.get_response": (BaseHandler.get_response, "3d6a79b124c2cccb"),
        "get_script_prefix": (get_script_prefix, "bd6e761a557ee4c5"),
    },
    "django-q2": {
        "pusher": (pusher.pusher, "6975acb3fb8d45a9"),
        "worker": (worker.worker, "b30d59f639b088ea"),
        "monitor": (monitor.monitor, "e45d60ca1db6b997"),
        "scheduler": (scheduler.scheduler, "d18181953d9d0a32"),
        "Sentinel.stop": (Sentinel.stop, "d858ef90cdaaebf5"),
    },
}


def digest(obj) -> str:
    return hashlib.sha256(inspect.getsource(obj).encode()).hexdigest()[:16]


@pytest.mark.parametrize("package", sorted(RELIED_ON))
def test_the_installed_version_is_the_pinned_one(package):
    pinned = re.search(rf"^{re.escape(package)}(?:\[[^\]]*\])?==(\S+)$", REQUIREMENTS, re.MULTILINE)
    assert pinned, f"{package} must be pinned to an exact version in requirements.txt"
    assert version(package) == pinned.group(1)


@pytest.mark.parametrize("package", sorted(RELIED_ON))
def test_the_internals_we_rely_on_are_unchanged(package):
    changed = {name: digest(obj) for name, (obj, recorded) in RELIED_ON[package].items()
               if digest(obj) != recorded}
    assert not changed, f"{package} internals changed (new digests: {changed})"
