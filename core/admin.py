"""What every app's admin shares."""

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows that only the orchestrator's own services write (streams and their stats, the VPN's
    state and history): shown, never added, edited or deleted by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# The Settings page and the history of changes (imported last: it uses ReadOnlyAdmin).
from . import settings_admin  # noqa: E402, F401
