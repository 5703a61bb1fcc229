"""Engines in the Django admin: Docker owns the containers, so the admin reads their fields and acts
through the same services as the API (provision, stop and remove, check health)."""

from django.contrib import admin, messages
from django.http import HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html

from core.errors import OrchestratorError

from . import docker_gateway, health, hooks, lifecycle, provisioning
from .models import Engine, Health

HEALTH_COLOURS = {Health.HEALTHY: "#2e9e48", Health.UNHEALTHY: "#d1372e", Health.UNKNOWN: "#8b949e"}


def coloured(text: str, colour: str, title: str = ""):
    return format_html(
        '<span style="color:{};font-weight:600" title="{}">&#9679; {}</span>', colour, title, text
    )


@admin.register(Engine)
class EngineAdmin(admin.ModelAdmin):
    list_display = ("container_name", "health", "state", "address", "active_streams", "managed",
                    "forwarded_port", "last_health_check", "last_stream_usage", "first_seen")
    list_filter = ("health_status", "state", "managed")
    search_fields = ("container_name", "container_id", "labels")
    ordering = ("container_name",)
    actions = ["check_health_now"]
    fieldsets = (
        (None, {"fields": ("container_name", "container_id", "image", "state", "managed", "host")}),
        ("Ports", {"fields": ("host_http_port", "container_http_port", "host_https_port",
                              "container_https_port", "p2p_port", "network_parent_id")}),
        ("Health", {"fields": ("health_status", "last_health_check", "last_health_error",
                               "health_failures")}),
        ("Usage", {"fields": ("first_seen", "last_seen", "last_stream_usage", "idle_since", "labels")}),
    )
    # Docker, the health checks and the proxies' events own these; only the reachable host is an
    # operator's choice (for an engine a proxy reaches under another name).
    readonly_fields = tuple(
        name for group in fieldsets for name in group[1]["fields"] if name != "host"
    )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(started_streams=hooks.started_stream_count())

    @admin.display(description="health", ordering="health_status")
    def health(self, engine):
        return coloured(engine.health_status, HEALTH_COLOURS.get(engine.health_status, "#8b949e"),
                        engine.last_health_error)

    @admin.display(description="address")
    def address(self, engine):
        return f"{engine.host}:{engine.port}" if engine.port else engine.host

    @admin.display(description="streams", ordering="started_streams")
    def active_streams(self, engine):
        return engine.started_streams

    @admin.display(description="P2P port", ordering="p2p_port")
    def forwarded_port(self, engine):
        return engine.p2p_port or ""

    # New engines come from the provision button (a container first, then its record).
    def has_add_permission(self, request):
        return False

    def get_urls(self):
        provision = self.admin_site.admin_view(self.provision_view)
        return [path("provision/", provision, name="engines_engine_provision"), *super().get_urls()]

    def provision_view(self, request):
        """POST from the change list's "Provision engine" button, as POST /provision/acestream."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not super().has_add_permission(request):
            messages.error(request, "You may not provision engines.")
        else:
            try:
                engine = provisioning.provision_engine()
            except OrchestratorError as exc:
                messages.error(request, f"Could not provision an engine: {exc}")
            else:
                messages.success(request, f"Provisioned {engine.container_name} on port {engine.port}.")
        return redirect(reverse("admin:engines_engine_changelist"))

    # Deleting goes through the service: the container is stopped and removed, ports freed and
    # streams ended, whether from the "delete selected" action or an engine's own page.
    def get_actions(self, request):
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            function, name, _ = actions["delete_selected"]
            actions["delete_selected"] = (function, name, "Stop and remove selected engines")
        return actions

    def delete_model(self, request, engine):
        self._stop_and_remove(request, engine)

    def delete_queryset(self, request, queryset):
        for engine in queryset:
            self._stop_and_remove(request, engine)

    def _stop_and_remove(self, request, engine):
        try:
            lifecycle.delete_engine(engine, reason="engine_deleted")
        except docker_gateway.DockerUnavailable as exc:
            messages.error(request, f"{engine.container_name} was not removed: {exc}")

    @admin.action(description="Check health now")
    def check_health_now(self, request, queryset):
        results = health.check_now(queryset)
        healthy = [engine.container_name for engine, reason in results if not reason]
        failing = [f"{engine.container_name} ({reason})" for engine, reason in results if reason]
        if healthy:
            messages.success(request, f"Healthy: {', '.join(healthy)}.")
        if failing:
            messages.warning(request, f"Unhealthy: {', '.join(failing)}.")
        if not results:
            messages.info(request, "None of the selected engines has a published port to check.")
