"""The admin's Settings page (`admin:core_settings`): the live settings grouped by topic, each with
its help, its environment value and where the value in force comes from, saved through
core.live_settings (validated like PATCH /settings, every error shown at its field); a reset per
field; the settings fixed at start, read-only; the change history; export and import as JSON.

It is the changelist of the Setting model, so the admin index lists it under "Orchestrator" and
Django's permissions apply: viewing needs the view (or change) permission, saving the change one."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse

from . import live_settings
from .admin import ReadOnlyAdmin
from .errors import OrchestratorError
from .models import Setting, SettingChange

Source = SettingChange.Source


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def _source_text(entry: dict) -> str:
    if entry["source"] == "saved":
        return f"saved by {entry.get('saved_by') or 'someone'}"
    if entry["source"] == "environment":
        return "from the environment"
    return "built-in default"


def _form_value(kind: str, submitted: Any) -> Any:
    if kind == "bool":
        return bool(submitted)
    return submitted


@admin.register(Setting)
class SettingAdmin(admin.ModelAdmin):
    """No list or change form of its own: the Settings page stands for both."""

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        page = self.admin_site.admin_view(self.settings_view)
        return [
            path("", page, name="core_settings"),
            path("", page, name="core_setting_changelist"),
            path("export/", self.admin_site.admin_view(self.export_view), name="core_settings_export"),
        ]

    # -- views -----------------------------------------------------------------------------

    def settings_view(self, request):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        errors: dict[str, list[str]] = {}
        submitted: dict[str, Any] = {}
        import_errors: list[str] = []
        if request.method == "POST":
            if not self.has_change_permission(request):
                raise PermissionDenied
            if "reset" in request.POST:
                return self._reset(request, request.POST["reset"])
            if "import" in request.POST:
                outcome = self._import(request)
                if outcome is None:
                    return HttpResponseRedirect(request.path)
                import_errors = outcome
            else:
                submitted = {name.lower(): _form_value(live_settings.kind(name),
                                                       request.POST.get(name.lower()))
                             for name in live_settings.LIVE}
                try:
                    done = live_settings.apply(submitted, who=request.user.get_username(),
                                               source=Source.ADMIN)
                except live_settings.InvalidSettings as exc:
                    errors = exc.errors
                else:
                    self._record(request, done, "saved")
                    return HttpResponseRedirect(request.path)
        return TemplateResponse(request, "admin/core/settings.html",
                                self._context(request, errors, submitted, import_errors))

    def export_view(self, request):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        response = JsonResponse(live_settings.export(), json_dumps_params={"indent": 2,
                                                                           "sort_keys": True})
        response["Content-Disposition"] = 'attachment; filename="orchestrator-settings.json"'
        return response

    # -- actions ---------------------------------------------------------------------------

    def _reset(self, request, name: str):
        try:
            done = live_settings.reset(name, who=request.user.get_username(), source=Source.ADMIN)
        except OrchestratorError as exc:  # an unknown name, or one fixed at start
            messages.error(request, exc.message)
        else:
            self._record(request, done, "reset")
        return HttpResponseRedirect(request.path)

    def _import(self, request) -> list[str] | None:
        """None when imported, else the reasons it was refused."""
        upload = request.FILES.get("file")
        if upload is None:
            return ["choose a JSON file, as the export writes it"]
        try:
            data = json.loads(upload.read().decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            return [f"{upload.name} is not JSON: {exc}"]
        try:
            done = live_settings.apply(data, who=request.user.get_username(), source=Source.IMPORT,
                                       replace=True)
        except live_settings.InvalidSettings as exc:
            return [f"{name}: {', '.join(reasons)}" for name, reasons in exc.errors.items()]
        except OrchestratorError as exc:
            return [exc.message]
        self._record(request, done, "imported")
        return None

    def _record(self, request, done: list[live_settings.Change], verb: str) -> None:
        """In Django's admin log (one entry per setting) and as a message on the page."""
        if not done:
            messages.info(request, "Nothing changed.")
            return
        lines = []
        for change in done:
            line = f"{change.name.lower()}: {_text(change.old)} → {_text(change.new)}"
            if change.reset:
                line += " (the environment's value)"
            lines.append(line)
            self.log_change(request, Setting(name=change.name, value=change.new),
                            f"{verb} {line}")
        messages.success(request, f"Settings {verb}: " + "; ".join(lines) + ".")

    # -- the page --------------------------------------------------------------------------

    def _context(self, request, errors: dict[str, list[str]], submitted: dict[str, Any],
                 import_errors: list[str]) -> dict:
        groups: dict[str, dict] = {}
        fixed: dict[str, dict] = {}
        for entry in live_settings.describe():
            name = entry["name"]
            upper = name.upper()
            title = live_settings.topic_title(entry["topic"])
            if not entry["live"]:
                fixed.setdefault(entry["topic"], {"title": title, "rows": []})["rows"].append(
                    {**entry, "env_name": upper, "shown": _text(entry["value"]) or "—"})
                continue
            kind = live_settings.kind(upper)
            # A refused save saved nothing: the form shows what was typed, to correct it.
            value = submitted.get(name, entry["value"]) if errors else entry["value"]
            groups.setdefault(entry["topic"], {"topic": entry["topic"], "title": title,
                                               "rows": []})["rows"].append({
                **entry,
                "env_name": upper,
                "kind": kind,
                "input_value": _text(value),
                "checked": bool(value) if kind == "bool" else False,
                "bounds": live_settings.bounds(upper),
                "errors": errors.get(name, []),
                "environment_text": _text(entry["environment"]) or "—",
                "source_text": _source_text(entry),
            })
        other_errors = [f"{name}: {', '.join(reasons)}" for name, reasons in errors.items()
                        if name.upper() not in live_settings.LIVE]
        ordered = [groups[topic] for topic in live_settings.LIVE_TOPICS if topic in groups]
        return {
            **self.admin_site.each_context(request),
            "title": "Settings",
            "opts": self.opts,
            "groups": ordered,
            "fixed": list(fixed.values()),
            "errors": errors,
            "other_errors": other_errors,
            "import_errors": import_errors,
            "history": [self._shown_change(change) for change in live_settings.history(50)],
            "may_change": self.has_change_permission(request),
            "export_url": reverse("admin:core_settings_export"),
        }


    @staticmethod
    def _shown_change(change: SettingChange) -> SettingChange:
        change.old_text = _text(change.old_value) or "—"
        change.new_text = _text(change.new_value) or "—"
        return change


@admin.register(SettingChange)
class SettingChangeAdmin(ReadOnlyAdmin):
    list_display = ("at", "name", "old_value", "new_value", "reset", "who", "source")
    list_filter = ("source", "name")
    search_fields = ("name", "who")
