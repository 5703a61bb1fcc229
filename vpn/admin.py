"""The VPN as the monitor last saw it, and its history: both written by vpn.monitor, read here."""

from django.contrib import admin
from django.utils.html import format_html

from core.admin import LiveChangeList, ReadOnlyAdmin

from .models import VpnState, VpnTransition

GOOD = "#2e9e48"
BAD = "#d1372e"
NEUTRAL = "#8b949e"


def _badge(text: str, colour: str):
    return format_html('<span style="color:{};font-weight:600">&#9679; {}</span>', colour, text)


@admin.register(VpnState)
class VpnStateAdmin(LiveChangeList, ReadOnlyAdmin):
    live_kinds = ("vpn",)
    list_display = ("container_name", "container", "health_badge", "vpn_status", "public_ip",
                    "forwarded_port", "auth_error", "last_check", "last_change")
    readonly_fields = [field.name for field in VpnState._meta.fields]

    @admin.display(description="container", ordering="container_status")
    def container(self, state):
        return _badge(state.container_status, GOOD if state.container_status == "running" else BAD)

    @admin.display(description="health", ordering="health")
    def health_badge(self, state):
        colour = {"healthy": GOOD, "unhealthy": BAD}.get(state.health, NEUTRAL)
        return _badge(state.health, colour)


@admin.register(VpnTransition)
class VpnTransitionAdmin(LiveChangeList, ReadOnlyAdmin):
    live_kinds = ("vpn",)
    list_display = ("ts", "kind", "detail")
    list_filter = ("kind",)
    search_fields = ("kind", "detail")
    date_hierarchy = "ts"
