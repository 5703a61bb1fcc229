"""What the operator commands share: failures as one line, readable tables and times.

Django skips modules starting with "_" when it lists commands, so this is no command itself.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from django.core.management.base import CommandError
from django.utils import timezone
from pydantic import ValidationError

from core.errors import OrchestratorError
from core.notify import wait_until_sent
from engines import docker_gateway


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Turn the failures the services report in words (Docker down, at capacity, VPN down)
    into a CommandError: one line on stderr and exit status 1, no traceback. On the way out,
    let the changes made so far reach open panels: the process exits right after, and the
    announcing thread cannot send once the interpreter shuts down."""
    try:
        yield
    except OrchestratorError as exc:
        raise CommandError(str(exc)) from None
    finally:
        wait_until_sent()


def require_docker() -> None:
    """Fail before changing anything when the daemon cannot be reached."""
    if not docker_gateway.ping():
        raise CommandError("Docker unavailable: the daemon does not answer (check DOCKER_HOST "
                           "or the mounted /var/run/docker.sock)")


def validation_message(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else error["msg"]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(value) for value in row] for row in (headers, *rows)]
    widths = [max(len(row[column]) for row in cells) for column in range(len(headers))]
    return "\n".join(
        "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )


def ago(moment: datetime | None) -> str:
    if moment is None:
        return "never"
    seconds = max(0, int((timezone.now() - moment).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"
