"""Admin actions that confirm first, as Django's own delete_selected does: the change list's POST
answers with a page that lists the selected rows and says what will happen; its "Yes" button
posts the same selection again with `post=yes`, and only then does the action run. The same page
serves the admin's other operations (provision, reset the breaker, rotate the API key), which
have no selection: they post to their own URL.

Actions report what they did with messages; the services they call raise
`core.errors.OrchestratorError` subclasses, whose message is fit to show as it is."""

from __future__ import annotations

from functools import wraps

from django.contrib.admin import helpers
from django.template.response import TemplateResponse

TEMPLATE = "admin/confirm_operation.html"


def confirmed(request) -> bool:
    return request.method == "POST" and request.POST.get("post") == "yes"


def confirmation_page(request, admin_site, *, title: str, question: str, button: str,
                      consequences=(), objects=(), opts=None, action: str = "",
                      danger: bool = False, form=None, cancel_url: str = "",
                      status: int = 200) -> TemplateResponse:
    """The page that asks before an operation runs. With `action` (a change list action) the
    selected `objects` go back as the selection; without, the page posts to its own URL."""
    context = {
        **admin_site.each_context(request),
        "title": title,
        "question": question,
        "button": button,
        "consequences": list(consequences),
        "objects": list(objects),
        "opts": opts,
        "action": action,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "danger": danger,
        "form": form,
        "cancel_url": cancel_url,
    }
    request.current_app = admin_site.name
    return TemplateResponse(request, TEMPLATE, context, status=status)


def confirm_first(title: str, question: str, button: str, consequences=None, danger: bool = False):
    """Make a change list action (a ModelAdmin method) ask first. `consequences(queryset)` may
    return lines that say what the action will do to these rows."""

    def decorate(function):
        @wraps(function)
        def action(modeladmin, request, queryset):
            if confirmed(request):
                return function(modeladmin, request, queryset)
            opts = modeladmin.model._meta
            return confirmation_page(
                request, modeladmin.admin_site, title=title,
                question=question.format(count=queryset.count(), items=opts.verbose_name_plural),
                button=button, consequences=consequences(queryset) if consequences else (),
                objects=queryset, opts=opts, action=request.POST.get("action", function.__name__),
                danger=danger)

        return action

    return decorate
