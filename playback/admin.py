"""The contents the orchestrator plays, in the admin: who watches them, on which engine, and the
operators' two levers, stop and move to another engine (a failover on demand), sent to the
process that plays them."""

from django.contrib import admin, messages

from core.admin import ReadOnlyAdmin
from core.admin_actions import confirm_first

from . import control
from .models import PlayedContent


@admin.register(PlayedContent)
class PlayedContentAdmin(ReadOnlyAdmin):
    list_display = ("key", "state", "engine", "players", "sent", "failover_count", "cut_off",
                    "since", "updated")
    list_filter = ("state",)
    search_fields = ("key", "engine", "stream_id")
    actions = ["stop_selected", "move_selected"]

    @admin.display(description="sent", ordering="bytes_sent")
    def sent(self, content):
        return f"{content.bytes_sent / 2**20:.1f} MiB"

    @admin.display(description="failovers")
    def failover_count(self, content):
        return sum(content.failovers.values())

    @admin.action(description="Stop playing the selected contents")
    @confirm_first("Stop playing", "Stop these {count} {items}?", "Yes, stop them", danger=True,
                   consequences=lambda rows: [
                       "their players' connections end and the engine sessions stop",
                       f"{sum(row.players for row in rows)} player(s) watch them now"])
    def stop_selected(self, request, queryset):
        self._send(request, queryset, "stop", "Asked the playing process to stop")

    @admin.action(description="Move the selected contents to another engine")
    @confirm_first("Move to another engine", "Move these {count} {items} to another engine?",
                   "Yes, move them", consequences=lambda rows: [
                       "each content starts on another engine (a free one first, else a new one)",
                       "players keep their connection; the old stream ends as moved"])
    def move_selected(self, request, queryset):
        self._send(request, queryset, "move", "Asked the playing process to move")

    def _send(self, request, queryset, action: str, done: str) -> None:
        keys = list(queryset.values_list("key", flat=True))
        for key in keys:
            control.send(action, key)
        messages.success(request, f"{done}: {', '.join(keys)}. The list follows within seconds.")
