"""Streams and their stats in the Django admin. The proxies' events and the collector own every
field, so both are read-only here; the one action stops a stream through its engine, after
asking (core.admin_actions)."""

from django.contrib import admin, messages
from django.db.models import OuterRef, Subquery
from django.utils.html import format_html

from core.admin import LiveChangeList, ReadOnlyAdmin
from core.admin_actions import confirm_first
from core.errors import OrchestratorError

from .models import StatSnapshot, Stream, StreamStatus
from .services import stop_stream

LATEST_INLINE_ROWS = 20
STATUS_COLOURS = {StreamStatus.STARTED: "#2e9e48", StreamStatus.ENDED: "#8b949e"}


class LatestStatsInline(admin.TabularInline):
    model = StatSnapshot
    verbose_name_plural = f"latest stats (newest {LATEST_INLINE_ROWS})"
    fields = ("taken_at", "status", "peers", "speed_down", "speed_up", "downloaded", "uploaded")
    readonly_fields = fields
    can_delete = False
    extra = 0
    ordering = ("-ts",)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        newest = StatSnapshot.objects.filter(stream=OuterRef("stream")).newest_first()
        # The formset filters by stream after this, which a sliced queryset would refuse.
        return queryset.filter(pk__in=Subquery(newest.values("pk")[:LATEST_INLINE_ROWS]))

    @admin.display(description="time (UTC)")
    def taken_at(self, snapshot):
        return f"{snapshot.ts:%Y-%m-%d %H:%M:%S}"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Stream)
class StreamAdmin(LiveChangeList, ReadOnlyAdmin):
    live_kinds = ("stream",)
    list_display = ("id", "key_type", "key", "engine", "state", "down", "up", "peers",
                    "started_at", "ended_at", "ended_reason")
    list_filter = ("status", "key_type", "ended_reason")
    search_fields = ("id", "key", "labels", "container_id", "playback_session_id",
                     "engine__container_name")
    list_select_related = ("engine",)
    date_hierarchy = "started_at"
    inlines = [LatestStatsInline]
    actions = ["stop_selected"]

    def get_queryset(self, request):
        newest = StatSnapshot.objects.filter(stream=OuterRef("pk")).newest_first()
        return super().get_queryset(request).annotate(
            **{f"latest_{name}": Subquery(newest.values(name)[:1])
               for name in ("speed_down", "speed_up", "peers")}
        )

    @admin.display(description="status", ordering="status")
    def state(self, stream):
        colour = STATUS_COLOURS.get(stream.status, "#8b949e")
        return format_html('<span style="color:{};font-weight:600">&#9679; {}</span>', colour,
                           stream.status)

    @admin.display(description="down KB/s", ordering="latest_speed_down")
    def down(self, stream):
        return stream.latest_speed_down

    @admin.display(description="up KB/s", ordering="latest_speed_up")
    def up(self, stream):
        return stream.latest_speed_up

    @admin.display(description="peers", ordering="latest_peers")
    def peers(self, stream):
        return stream.latest_peers

    def has_stop_permission(self, request):
        """Stopping changes nothing an operator edits, but ends a player's stream: view rights
        on streams are enough (every staff user the admin lets in with them)."""
        return self.has_view_permission(request)

    @admin.action(description="Stop selected streams (through the engine's command URL)",
                  permissions=["stop"])
    @confirm_first("Stop streams", "Stop these {count} {items}?", "Yes, stop them",
                   consequences=lambda queryset: [
                       f"{queryset.filter(status=StreamStatus.STARTED).count()} of them are started: "
                       "each engine is told to stop its session, and the stream ends as "
                       "manual_stop. Ended ones are left as they are."])
    def stop_selected(self, request, queryset):
        stopped, unconfirmed = [], []
        for stream in queryset.filter(status=StreamStatus.STARTED):
            try:
                problem = stop_stream(stream)
            except OrchestratorError as exc:
                messages.error(request, f"{stream.id} was not stopped: {exc}")
                continue
            if problem:
                unconfirmed.append(f"{stream.id} ({problem})")
            else:
                stopped.append(stream.id)
        if stopped:
            messages.success(request, f"Stopped {len(stopped)} stream(s).")
        if unconfirmed:
            messages.warning(request, "Ended, but the engine did not confirm the stop: "
                                      + "; ".join(unconfirmed))
        if not stopped and not unconfirmed:
            messages.info(request, "None of the selected streams was started.")


@admin.register(StatSnapshot)
class StatSnapshotAdmin(ReadOnlyAdmin):
    list_display = ("stream", "ts", "status", "peers", "speed_down", "speed_up", "downloaded",
                    "uploaded")
    list_filter = ("status",)
    search_fields = ("stream__id", "stream__key")
    list_select_related = ("stream",)
    date_hierarchy = "ts"
