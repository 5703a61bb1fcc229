from django.core.management.base import BaseCommand

from core.config import conf
from engines import cleanup

from ._cli import one_line_errors, require_docker


class Command(BaseCommand):
    help = ("Run the cleanup pass now, as POST /gc does: remove engines idle past their grace "
            "period, keeping MIN_REPLICAS.")

    def handle(self, *args, **options):
        if not conf().AUTO_DELETE:
            self.stdout.write("AUTO_DELETE is off: nothing is removed")
            return
        require_docker()
        with one_line_errors():
            removed = cleanup.cleanup_pass()
        self.stdout.write(f"removed {len(removed)} idle engine(s)"
                          + (f": {', '.join(removed)}" if removed else ""))
