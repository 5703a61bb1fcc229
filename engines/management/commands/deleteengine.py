from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from engines import lifecycle
from engines.models import Engine

from ._cli import one_line_errors, require_docker

# Shorter prefixes of a container id would match too much by accident.
MIN_ID_PREFIX = 4


def find_engine(ref: str) -> Engine | None:
    """By container id, name, or an unambiguous id prefix (as `docker ps` shows ids)."""
    engine = Engine.objects.filter(Q(container_id=ref) | Q(container_name=ref)).first()
    if engine is None and len(ref) >= MIN_ID_PREFIX:
        matches = list(Engine.objects.filter(container_id__startswith=ref)[:2])
        if len(matches) == 2:
            raise CommandError(f"{ref!r} matches several engines: give more of the id")
        engine = matches[0] if matches else None
    return engine


class Command(BaseCommand):
    help = ("Delete engines by container id (or id prefix) or name, as DELETE /containers/{id} "
            "does: stop, remove, free ports, end their streams.")

    def add_arguments(self, parser):
        parser.add_argument("refs", nargs="+", metavar="ID_OR_NAME")

    def handle(self, *args, refs, **options):
        engines, unknown = {}, []
        for ref in refs:
            engine = find_engine(ref)
            if engine is None:
                unknown.append(ref)
            else:
                engines[engine.pk] = engine
        if unknown:
            raise CommandError(f"no engine {', '.join(map(repr, unknown))}: nothing deleted "
                               "(see manage.py engines)")
        if any(engine.managed for engine in engines.values()):
            require_docker()
        for engine in engines.values():
            with one_line_errors():
                lifecycle.delete_engine(engine)
            what = "deleted" if engine.managed else "forgot external engine"
            self.stdout.write(f"{what} {engine.container_name} ({(engine.container_id or '')[:12]})")
