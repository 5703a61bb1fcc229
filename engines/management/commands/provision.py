import time

from django.core.management.base import BaseCommand, CommandError
from pydantic import ValidationError

from core.config import conf
from engines import health, provisioning
from engines.api.schemas import ProvisionAcestreamIn
from engines.models import Engine

from ._cli import one_line_errors, require_docker, validation_message


def parse_labels(items: list[str]) -> dict[str, str]:
    labels = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CommandError(f"bad label {item!r}: use --label key=value")
        labels[key] = value
    return labels


class Command(BaseCommand):
    help = "Start AceStream engines, as POST /provision/acestream does, one line per engine."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=1, help="engines to start (default 1)")
        parser.add_argument("--image", help="engine image (default TARGET_IMAGE)")
        parser.add_argument("--label", action="append", default=[], metavar="KEY=VALUE",
                            help="label for the containers; repeat for several")
        parser.add_argument("--wait-ready", action="store_true",
                            help="wait until each engine answers get_status")

    def handle(self, *args, count, image, label, wait_ready, **options):
        if count < 1:
            raise CommandError(f"--count must be at least 1, got {count}")
        try:
            body = ProvisionAcestreamIn(image=image, labels=parse_labels(label))
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from None
        cap = conf().replica_cap
        room = cap - Engine.objects.managed().count()
        if count > room:
            raise CommandError(f"only {max(room, 0)} more engine(s) fit under the limit of {cap}")
        require_docker()
        not_ready = []
        for number in range(1, count + 1):
            began = time.monotonic()
            try:
                with one_line_errors():
                    engine = provisioning.provision_engine(
                        provisioning.EngineRequest(image=body.image, labels=body.labels))
            except CommandError as exc:
                if number == 1:
                    raise
                raise CommandError(f"engine {number} of {count} failed after {number - 1} "
                                   f"started: {exc}") from None
            line = (f"[{number}/{count}] {engine.container_name}  {engine.container_id[:12]}  "
                    f"port {engine.port}  running after {time.monotonic() - began:.1f} s")
            if wait_ready:
                reason = health.wait_for_engine(engine)
                line += f", {reason or 'ready'} after {time.monotonic() - began:.1f} s"
                if reason:
                    not_ready.append(engine.container_name)
            self.stdout.write(line)
            self.stdout.flush()  # progress shows even when the output is piped
        if not_ready:
            raise CommandError(f"not ready within {conf().STARTUP_TIMEOUT_S} s: {', '.join(not_ready)}")
