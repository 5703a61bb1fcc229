from django.core.management.base import BaseCommand

from engines.management.commands._cli import ago, one_line_errors, table
from streams.collector import collect_pass
from streams.models import Stream

HEADERS = ("STREAM", "ENGINE", "STATUS", "PEERS", "DOWN KB/s", "UP KB/s", "STATS")


def _value(number) -> str:
    return "-" if number is None else str(number)


class Command(BaseCommand):
    help = "Run one stats collection pass now and print the latest stats of every started stream."

    def handle(self, *args, **options):
        with one_line_errors():
            collect_pass()
        streams = list(Stream.objects.started().select_related("engine").order_by("started_at"))
        if not streams:
            self.stdout.write("no started streams")
            return
        rows = []
        for stream in streams:
            latest = stream.snapshots.newest_first().first()
            engine = stream.engine.container_name if stream.engine else stream.container_id[:12]
            if latest is None:
                rows.append((stream.id, engine, "-", "-", "-", "-", "none yet"))
            else:
                rows.append((stream.id, engine, latest.status or "-", _value(latest.peers),
                             _value(latest.speed_down), _value(latest.speed_up), ago(latest.ts)))
        self.stdout.write(table(HEADERS, rows))
