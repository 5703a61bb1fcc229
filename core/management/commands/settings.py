"""`manage.py settings`: the live settings from a shell, validated as PATCH /settings is."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core import live_settings
from core.errors import OrchestratorError
from core.models import SettingChange

HEADERS = ("NAME", "VALUE", "SOURCE", "ENVIRONMENT", "TOPIC", "LIVE")


def _text(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(item) for item in value) or "-"
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(value) for value in row] for row in (headers, *rows)]
    widths = [max(len(row[column]) for row in cells) for column in range(len(headers))]
    return "\n".join("  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True))
                     .rstrip() for row in cells)


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for this uid (a container)
        return "command"


def _pairs(items: list[str]) -> dict[str, str]:
    changes = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise CommandError(f"bad argument {item!r}: use NAME=VALUE, e.g. min_replicas=2")
        changes[name.strip()] = value
    return changes


class Command(BaseCommand):
    help = ("Show, change, export, import or reset the live settings (the admin's Settings page "
            "and /settings do the same): `settings show`, `settings set min_replicas=2 "
            "auto_delete=false`, `settings export > file.json`, `settings import file.json`, "
            "`settings reset min_replicas`.")

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        show = actions.add_parser("show", help="every setting, its value and where it comes from")
        show.add_argument("--live", action="store_true", help="only the settings that change live")
        change = actions.add_parser("set", help="save NAME=VALUE ... (read as the environment is)")
        change.add_argument("pairs", nargs="+", metavar="NAME=VALUE")
        actions.add_parser("export", help="the saved values as JSON on stdout")
        load = actions.add_parser("import", help="the saved values become exactly a file's "
                                                 "(`-`: stdin); the others return to the environment")
        load.add_argument("file")
        back = actions.add_parser("reset", help="back to the environment's value")
        back.add_argument("names", nargs="+", metavar="NAME")

    def handle(self, *args, action: str, **options):
        try:
            getattr(self, f"_{action}")(**options)
        except OrchestratorError as exc:
            raise CommandError(str(exc)) from None

    def _show(self, live: bool = False, **options):
        rows = [(entry["name"], _text(entry["value"]), entry["source"], _text(entry["environment"]),
                 entry["topic"], "live" if entry["live"] else "restart")
                for entry in live_settings.describe() if entry["live"] or not live]
        self.stdout.write(table(HEADERS, rows))

    def _set(self, pairs: list[str], **options):
        done = live_settings.apply(_pairs(pairs), who=_who(), source=SettingChange.Source.COMMAND)
        self._report(done)

    def _export(self, **options):
        self.stdout.write(json.dumps(live_settings.export(), indent=2, sort_keys=True))

    def _import(self, file: str, **options):
        try:
            text = sys.stdin.read() if file == "-" else Path(file).read_text()
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}") from None
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise CommandError(f"{file} is not JSON: {exc}") from None
        done = live_settings.apply(data, who=_who(), source=SettingChange.Source.IMPORT, replace=True)
        self._report(done)

    def _reset(self, names: list[str], **options):
        done = live_settings.apply(dict.fromkeys(names), who=_who(),
                                   source=SettingChange.Source.COMMAND)
        self._report(done)

    def _report(self, done: list[live_settings.Change]):
        if not done:
            self.stdout.write("nothing changed")
        for change in done:
            after = "the environment's " if change.reset else ""
            self.stdout.write(f"{change.name.lower()}: {_text(change.old)} -> {after}"
                              f"{_text(change.new)}")
