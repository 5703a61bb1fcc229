"""Human words for the first paint. panel.js has the same rules (`ago`, `duration`, `speed`,
`countdown`) for the live re-renders, so a value looks the same before and after the first
update."""

from datetime import datetime

from django import template
from django.utils import timezone

register = template.Library()


def _seconds_since(moment: datetime) -> float:
    return max(0.0, (timezone.now() - moment).total_seconds())


@register.filter
def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


@register.filter
def ago(moment: datetime | None) -> str:
    if moment is None:
        return "never"
    seconds = _seconds_since(moment)
    if seconds < 5:
        return "just now"
    return f"{duration(seconds)} ago"


@register.filter
def uptime(moment: datetime | None) -> str:
    return duration(_seconds_since(moment)) if moment else "—"


@register.filter
def speed(kilobytes_per_second: int | None) -> str:
    """Engines report KB/s; a stream without stats yet has none."""
    if not isinstance(kilobytes_per_second, int | float):
        return "—"
    if kilobytes_per_second >= 1024:
        return f"{kilobytes_per_second / 1024:.1f} MB/s"
    return f"{kilobytes_per_second} KB/s"


def countdown_words(seconds: float) -> str:
    """Time left, to the second: `4 min 05 s`."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


@register.filter
def countdown(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return countdown_words((moment - timezone.now()).total_seconds())


@register.filter
def iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""
