
from django.core.management.base import BaseCommand

from core.rendering import render
from engines.api.schemas import EngineState
from engines.listing import engine_states
from engines.models import Engine

from ._cli import ago, table

HEADERS = ("NAME", "ID", "STATE", "HEALTH", "PORTS", "STREAMS", "LAST USED", "KIND")


def _ports(state: dict) -> str:
    ports = [str(state["port"] or "-")]
    if state["host_https_port"]:
        ports.append(str(state["host_https_port"]))
    if state["p2p_port"]:
        ports.append(f"p2p {state['p2p_port']}")
    return "/".join(ports)


class Command(BaseCommand):
    help = "List the engines as GET /engines sees them: a table, or the same JSON with --json."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", dest="as_json", help="print GET /engines' JSON")

    def handle(self, *args, as_json: bool, **options):
        states = engine_states(Engine.objects.listed())
        if as_json:
            # The API's renderer, so timestamps read exactly as GET /engines writes them.
            self.stdout.write(render(list[EngineState], states, indent=2).decode())
            return
        if not states:
            self.stdout.write("no engines")
            return
        rows = [(
            state["container_name"],
            (state["container_id"] or "")[:12],
            state["state"],
            state["health_status"],
            _ports(state),
            state["active_streams"],
            ago(state["last_stream_usage"]),
            "managed" if state["managed"] else "external",
        ) for state in states]
        self.stdout.write(table(HEADERS, rows))
