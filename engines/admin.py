"""Engines in the Django admin: Docker owns the containers, so the admin reads their fields and acts
through the same services as the API (provision, stop and remove, restart, check health, reset
the start breaker). Every operation asks first (core.admin_actions) and reports what it did."""

from django import forms
from django.contrib import admin, messages
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

from core.admin import LiveChangeList, ReadOnlyAdmin
from core.admin_actions import confirm_first, confirmation_page, confirmed
from core.config import conf
from core.errors import OrchestratorError

from . import gate, health, hooks, lifecycle, provisioning
from .models import Engine, Fleet, Health, PortReservation, State

HEALTH_COLOURS = {Health.HEALTHY: "#2e9e48", Health.UNHEALTHY: "#d1372e", Health.UNKNOWN: "#8b949e"}
GOOD, BAD, NEUTRAL = "#2e9e48", "#d1372e", "#8b949e"
# Engines one provision form may ask for (each takes a second or two to start).
PROVISION_AT_ONCE_MAX = 20


def coloured(text: str, colour: str, title: str = ""):
    return format_html(
        '<span style="color:{};font-weight:600" title="{}">&#9679; {}</span>', colour, title, text
    )


def _names(engines) -> str:
    return ", ".join(engine.container_name for engine in engines)


class ProvisionForm(forms.Form):
    count = forms.IntegerField(
        label="Engines", min_value=1, max_value=PROVISION_AT_ONCE_MAX, initial=1,
        help_text=f"How many engines to start now (at most {PROVISION_AT_ONCE_MAX} at once).")


def _stream_consequences(queryset) -> list[str]:
    busy = [f"{engine.container_name} ({engine.started_streams} started)"
            for engine in queryset if engine.started_streams]
    return [f"Their streams end: {', '.join(busy)}."] if busy else ["None of them has a started stream."]


@admin.register(Engine)
class EngineAdmin(LiveChangeList, admin.ModelAdmin):
    change_list_template = "admin/engines/engine/change_list.html"  # adds "Provision engines"
    live_kinds = ("engine", "stream")
    list_display = ("container_name", "health", "state", "address", "active_streams", "idle",
                    "uptime", "vpn", "managed", "last_health_check")
    list_filter = ("health_status", "state", "managed")
    search_fields = ("container_name", "container_id", "labels")
    ordering = ("container_name",)
    actions = ["check_health_now", "restart_selected", "stop_and_remove"]
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
        return coloured(engine.health_status, HEALTH_COLOURS.get(engine.health_status, NEUTRAL),
                        engine.last_health_error)

    @admin.display(description="address")
    def address(self, engine):
        return f"{engine.host}:{engine.port}" if engine.port else engine.host

    @admin.display(description="streams", ordering="started_streams")
    def active_streams(self, engine):
        return engine.started_streams

    @admin.display(description="idle for", ordering="idle_since")
    def idle(self, engine):
        if engine.started_streams:
            return "in use"
        return timesince(engine.idle_from(), timezone.now(), depth=1)

    @admin.display(description="uptime", ordering="first_seen")
    def uptime(self, engine):
        if engine.state != State.RUNNING:
            return "—"
        return timesince(engine.first_seen, timezone.now(), depth=2)

    @admin.display(description="VPN", ordering="network_parent_id")
    def vpn(self, engine):
        """Behind Gluetun (in its network), and the forwarded P2P port when it holds it."""
        if not engine.network_parent_id:
            return "—"
        if engine.p2p_port:
            return format_html('<span title="behind the VPN, holds its forwarded port">'
                               "&#128274; VPN · P2P {}</span>", engine.p2p_port)
        return format_html('<span title="behind the VPN">&#128274; VPN</span>')

    # New engines come from the provision form (a container first, then its record).
    def has_add_permission(self, request):
        return False

    def may_provision(self, request) -> bool:
        return super().has_add_permission(request)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "may_provision": self.may_provision(request)}
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        provision = self.admin_site.admin_view(self.provision_view)
        return [path("provision/", provision, name="engines_engine_provision"), *super().get_urls()]

    def provision_view(self, request):
        """Asks how many (GET, or a POST with errors), then starts them as POST
        /provision/acestream does, one after the other, stopping at the first refusal."""
        changelist = reverse("admin:engines_engine_changelist")
        if not self.may_provision(request):
            messages.error(request, "You may not provision engines.")
            return redirect(changelist)
        form = ProvisionForm(request.POST if confirmed(request) else None,
                             initial={"count": request.GET.get("count", 1)})
        if form.is_bound and form.is_valid():
            self._provision(request, form.cleaned_data["count"])
            return redirect(changelist)
        cfg = conf()
        engines = Engine.objects.managed().count()
        facts = [f"{engines} engine(s) now; MIN_REPLICAS={cfg.MIN_REPLICAS}, at most "
                 f"{cfg.replica_cap} at once.",
                 "Each engine starts from the engine image and is checked at once."]
        if problem := gate.blocked():
            facts.insert(0, f"Provisioning is blocked now ({problem.code}): {problem.text()}.")
        return confirmation_page(
            request, self.admin_site, title="Provision engines", question="Start new engines?",
            button="Provision", consequences=facts, opts=self.model._meta, form=form,
            cancel_url=changelist, status=422 if form.is_bound else 200)

    def _provision(self, request, count: int) -> None:
        started = []
        for number in range(1, count + 1):
            try:
                engine = provisioning.provision_engine()
            except OrchestratorError as exc:
                messages.error(request, f"Could not provision engine {number} of {count}: {exc}")
                break
            started.append(f"{engine.container_name} on port {engine.port}")
        if started:
            messages.success(request, f"Provisioned {len(started)} engine(s): {', '.join(started)}.")

    # Deleting goes through the service: the container is stopped and removed, ports freed and
    # streams ended, whether from the action or an engine's own page. Django's delete_selected
    # would report success whatever Docker said, so the action is ours.
    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def delete_model(self, request, engine):
        try:
            lifecycle.delete_engine(engine, reason="engine_deleted")
        except OrchestratorError as exc:
            request._engine_not_deleted = f"{engine.container_name} was not removed: {exc}"

    def response_delete(self, request, obj_display, obj_id):
        if problem := getattr(request, "_engine_not_deleted", None):
            messages.error(request, problem)
            return redirect(reverse("admin:engines_engine_changelist"))
        return super().response_delete(request, obj_display, obj_id)

    def has_operate_permission(self, request):
        """Restart and check: changing what Docker runs, as an operator may."""
        return self.has_change_permission(request)

    @admin.action(description="Stop and remove selected engines", permissions=["delete"])
    @confirm_first("Stop and remove engines", "Stop and remove these {count} {items}?",
                   "Yes, stop and remove them", consequences=_stream_consequences, danger=True)
    def stop_and_remove(self, request, queryset):
        removed = []
        for engine in queryset:
            try:
                lifecycle.delete_engine(engine, reason="engine_deleted")
            except OrchestratorError as exc:
                messages.error(request, f"{engine.container_name} was not removed: {exc}")
            else:
                removed.append(engine)
        if removed:
            messages.success(request, f"Stopped and removed {len(removed)} engine(s): {_names(removed)}.")

    @admin.action(description="Restart selected engines (Docker restart)", permissions=["operate"])
    @confirm_first("Restart engines", "Restart the containers of these {count} {items}?",
                   "Yes, restart them", consequences=_stream_consequences, danger=True)
    def restart_selected(self, request, queryset):
        restarted = []
        for engine in queryset:
            try:
                lifecycle.restart_engine(engine)
            except OrchestratorError as exc:
                messages.error(request, f"{engine.container_name} was not restarted: {exc}")
            else:
                restarted.append(engine)
        if restarted:
            messages.success(request, f"Restarted {len(restarted)} engine(s): {_names(restarted)}; "
                                      "each is checked again as it comes back.")

    @admin.action(description="Check health now", permissions=["operate"])
    @confirm_first("Check health now", "Ask these {count} {items} for get_status now?",
                   "Yes, check them",
                   consequences=lambda queryset: ["The outcome is stored as a scheduled check's is: "
                                                  "an engine failing too often is replaced."])
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


@admin.register(PortReservation)
class PortReservationAdmin(ReadOnlyAdmin):
    """Ports handed out to engines, and ports Docker said the host already uses (skipped until
    `blocked_until`): written by provisioning only."""

    list_display = ("port", "purpose", "engine", "blocked_until", "created")
    list_filter = ("purpose",)
    search_fields = ("port", "engine__container_name")
    list_select_related = ("engine",)


@admin.register(Fleet)
class FleetAdmin(LiveChangeList, ReadOnlyAdmin):
    """What may block provisioning (engines.gate): Docker, the engine image, the start breaker.
    Written by the gate only; the one thing an operator does here is reset the breaker."""

    live_kinds = ("provisioning", "engine")

    list_display = ("__str__", "provisioning", "docker", "engine_image", "breaker",
                    "start_failures", "last_start_failure_at")
    actions = ["reset_breaker"]
    readonly_fields = [field.name for field in Fleet._meta.fields if field.name != "id"]

    def get_queryset(self, request):
        Fleet.ensure()
        return super().get_queryset(request)

    def has_reset_permission(self, request):
        opts = self.model._meta
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    @admin.display(description="provisioning")
    def provisioning(self, fleet):
        problem = gate.blocked()
        if problem is None:
            return coloured("open", GOOD)
        return coloured(f"blocked: {problem.code}", BAD if problem.is_fault else "#b7791f",
                        problem.text())

    @admin.display(description="Docker")
    def docker(self, fleet):
        return coloured("answers", GOOD) if fleet.docker_reachable else coloured(
            "unreachable", BAD, fleet.docker_error)

    @admin.display(description="engine image")
    def engine_image(self, fleet):
        if fleet.image_missing:
            return coloured(f"missing: {fleet.image}", BAD, fleet.image_error)
        return coloured(fleet.image or conf().TARGET_IMAGE, GOOD if fleet.image else NEUTRAL)

    @admin.display(description="start breaker")
    def breaker(self, fleet):
        state = fleet.breaker_state()
        return coloured(state, GOOD if state == Fleet.Breaker.CLOSED else BAD, fleet.last_start_failure)

    def get_urls(self):
        reset = self.admin_site.admin_view(self.reset_breaker_view)
        return [path("reset-breaker/", reset, name="engines_fleet_reset_breaker"), *super().get_urls()]

    def reset_breaker_view(self, request):
        """The admin index's and the panel's link: asks (GET), then closes the breaker (POST)."""
        if not self.has_reset_permission(request):
            messages.error(request, "You may not reset the circuit breaker.")
            return redirect(reverse("admin:index"))
        if confirmed(request):
            self._reset(request)
            return redirect(reverse("admin:index"))
        return confirmation_page(
            request, self.admin_site, title="Reset the circuit breaker",
            question="Close the circuit breaker on engine starts?", button="Yes, reset it",
            consequences=self._breaker_facts(), opts=self.model._meta)

    @admin.action(description="Reset the circuit breaker on engine starts", permissions=["reset"])
    def reset_breaker(self, request, queryset):
        if not confirmed(request):
            return confirmation_page(
                request, self.admin_site, title="Reset the circuit breaker",
                question="Close the circuit breaker on engine starts?", button="Yes, reset it",
                consequences=self._breaker_facts(), objects=queryset, opts=self.model._meta,
                action="reset_breaker")
        self._reset(request)

    @staticmethod
    def _breaker_facts() -> list[str]:
        fleet = Fleet.stored()
        facts = [f"It is {fleet.breaker_state()} after {fleet.start_failures} failed start(s) in a row."]
        if fleet.last_start_failure:
            facts.append(f"Last failure: {fleet.last_start_failure}")
        facts.append("Engine starts are allowed again at once; if their cause remains, "
                     f"{conf().PROVISION_FAILURE_THRESHOLD} more failed start(s) open it again.")
        return facts

    @staticmethod
    def _reset(request) -> None:
        was = Fleet.stored().breaker_state()
        try:
            gate.reset_breaker(reason=f"reset by {request.user.get_username()} in the admin")
        except OrchestratorError as exc:
            messages.error(request, f"The breaker was not reset: {exc}")
            return
        if was == Fleet.Breaker.CLOSED:
            messages.info(request, "The circuit breaker was already closed; its count of failures "
                                   "in a row is cleared.")
        else:
            messages.success(request, f"Circuit breaker reset (it was {was}): engine starts are "
                                      "allowed again.")
