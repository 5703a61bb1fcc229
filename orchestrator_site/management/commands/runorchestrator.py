import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from core.config import conf
from orchestrator_site.processes import web_processes, worker_command

# The worker finishes the tasks it has taken; after this it is killed.
STOP_GRACE_S = 10


class Command(BaseCommand):
    help = ("Migrate, then run the whole orchestrator: web (daphne, WEB_PROCESSES of them), "
            "and the worker (django-q2 and the fast loops).")

    def add_arguments(self, parser):
        parser.add_argument("--host", default="0.0.0.0")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-migrate", action="store_true")

    def handle(self, *args, host, port, no_migrate, **options):
        if not no_migrate:
            call_command("migrate", interactive=False, verbosity=0)
            if "channels" in settings.DATABASES:
                call_command("migrate", database="channels", interactive=False, verbosity=0)
        call_command("setupfleet")  # prints the API key when it generates one (or OPEN_API's warning)
        children = {}
        for web in web_processes(sys.executable, host, port, conf().WEB_PROCESSES):
            children[web.name] = subprocess.Popen(web.argv, pass_fds=web.pass_fds,
                                                  env={**os.environ, **web.env})
            web.started()
        children["worker"] = subprocess.Popen(worker_command(sys.executable))
        self.stdout.write(f"orchestrator on http://{host}:{port} (pids: " + ", ".join(
            f"{name} {child.pid}" for name, child in children.items()) + ")")
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while not stopping and all(child.poll() is None for child in children.values()):
            time.sleep(0.5)
        for name, child in children.items():
            if child.poll() is not None and not stopping:
                self.stderr.write(f"{name} exited with code {child.returncode}; stopping")
        self._stop(children)

    def _stop(self, children):
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
