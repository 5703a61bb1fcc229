from django.core.management.base import BaseCommand

from engines import sync
from engines.models import Engine

from ._cli import one_line_errors, require_docker


class Command(BaseCommand):
    help = ("Make the engine records match Docker now: adopt labelled containers the database "
            "does not know, forget vanished ones, remove dead ones.")

    def handle(self, *args, **options):
        require_docker()
        with one_line_errors():
            summary = sync.sync_with_docker()
        self.stdout.write(", ".join(f"{key.replace('_', ' ')}: {value}"
                                    for key, value in summary.items()))
        self.stdout.write(f"engines known: {Engine.objects.managed().listed().count()} managed, "
                          f"{Engine.objects.filter(managed=False).count()} external")
