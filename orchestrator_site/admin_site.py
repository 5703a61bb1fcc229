"""The admin as the orchestrator's control room: its name in the header, the fleet's status box on
the index (the panel's banner, with links to what helps), and the API key page.

Installed the documented way: `OrchestratorAdminConfig` replaces `django.contrib.admin` in
INSTALLED_APPS and names this site its `default_site`, so `admin.site` and every app's
`admin.register` are this site. Django imports this module while it loads the apps, before any
model: the fleet's status (which reads models) is imported where it is used.
"""

from django.contrib import admin, messages
from django.contrib.admin.apps import AdminConfig
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from core import api_key
from core.admin_actions import confirmation_page, confirmed
from core.errors import OrchestratorError

TITLE = "AceStream orchestrator"


class OrchestratorAdminConfig(AdminConfig):
    default_site = "orchestrator_site.admin_site.OrchestratorAdminSite"


class OrchestratorAdminSite(admin.AdminSite):
    site_header = TITLE
    site_title = TITLE
    index_title = "Control room"
    site_url = "/panel"  # "View site" opens the live panel

    def index(self, request, extra_context=None):
        from panel.snapshot import admin_status

        return super().index(request, {**(extra_context or {}), "fleet_status": admin_status()})

    def get_urls(self):
        return [
            path("api-key/", self.admin_view(self.api_key_view), name="api_key"),
            path("api-key/rotate/", self.admin_view(self.rotate_api_key_view), name="api_key_rotate"),
            *super().get_urls(),
        ]

    def api_key_view(self, request):
        """The key proxies must send, where it comes from, and the way to rotate it (staff)."""
        source = api_key.source()
        context = {
            **self.each_context(request),
            "title": "API key",
            "source": source,
            "key": api_key.current() if source != api_key.OPEN else None,
            "key_path": api_key.path(),
            "base_url": request.build_absolute_uri("/").rstrip("/"),
        }
        request.current_app = self.name
        return TemplateResponse(request, "admin/api_key.html", context)

    def rotate_api_key_view(self, request):
        """Asks first (GET), then writes a new key (POST): every process uses it at once."""
        if confirmed(request):
            try:
                api_key.rotate()
            except OrchestratorError as exc:
                messages.error(request, f"The API key was not rotated: {exc}")
            else:
                messages.success(request, "A new API key is in force in every process: give it to "
                                          "your proxies now (the old one is refused).")
            return redirect(reverse("admin:api_key"))
        return confirmation_page(
            request, self, title="Rotate the API key", question="Write a new API key?",
            button="Yes, rotate it", danger=True, cancel_url=reverse("admin:api_key"),
            consequences=[f"The new key replaces the one in {api_key.path()} at once, for the "
                          "web and the worker, without a restart.",
                          "Every proxy using the current key is refused (403) until it is given "
                          "the new one."])
