"""What every app's admin shares."""

from django.contrib import admin


class LiveChangeList:
    """A change list that reloads itself (panel/admin-live.js, over the panel's feed) when a
    change of one of `live_kinds` is announced by `notify()`."""

    change_list_template = "admin/live_change_list.html"
    live_kinds: tuple[str, ...] = ()

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "live_kinds": ",".join(self.live_kinds)}
        return super().changelist_view(request, extra_context)


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
