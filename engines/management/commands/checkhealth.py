import time
from collections import Counter

from django.core.management.base import BaseCommand

from engines import health
from engines.models import Engine

from ._cli import ago, one_line_errors, table

HEADERS = ("NAME", "PORT", "HEALTH", "CHECKED", "FAILURES", "ERROR")


class Command(BaseCommand):
    help = "Run a health-check pass now (get_status on every engine) and print each engine's result."

    def handle(self, *args, **options):
        began = time.monotonic()
        with one_line_errors():
            health.check_all()
        seconds = time.monotonic() - began
        engines = list(Engine.objects.listed())
        if not engines:
            self.stdout.write("no engines")
            return
        self.stdout.write(table(HEADERS, [
            (engine.container_name, engine.port or "-", engine.health_status,
             ago(engine.last_health_check), engine.health_failures, engine.last_health_error or "")
            for engine in engines
        ]))
        tally = Counter(engine.health_status for engine in engines)
        self.stdout.write(f"checked in {seconds:.1f} s: "
                          + ", ".join(f"{count} {status}" for status, count in sorted(tally.items())))
