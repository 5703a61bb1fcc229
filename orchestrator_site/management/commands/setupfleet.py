from django.core.management.base import BaseCommand

from orchestrator_site.bootstrap import ensure_admin, ensure_api_key
from orchestrator_site.schedules import ensure_schedules


class Command(BaseCommand):
    help = ("First-start setup after migrate: the initial admin account, the API key and the "
            "worker's schedules.")

    def handle(self, *args, **options):
        message = ensure_admin()
        if message:
            self.stdout.write(message)
        if line := ensure_api_key():
            self.stdout.write(line)
        self.stdout.write("schedules: " + ", ".join(ensure_schedules()))
