"""The one error hierarchy: every failure the orchestrator reports in words carries its HTTP
status and a code. The API answers it as `{"detail": ...}` in one handler, admin actions show its
message, commands print it as one line; none of them lists exception classes of its own."""

from __future__ import annotations


class OrchestratorError(Exception):
    status = 500
    code = "error"

    def __init__(self, message: str = "", *, code: str | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self)

    def detail(self):
        """What goes into the answer's `detail`: the message, or an object (see subclasses)."""
        return self.message


class InvalidInput(OrchestratorError):
    """Input the server checked and refuses."""

    status = 422
    code = "invalid_input"


class Forbidden(OrchestratorError):
    status = 403
    code = "forbidden"


class NotFound(OrchestratorError):
    status = 404
    code = "not_found"


class Conflict(OrchestratorError):
    """A name or port another container or engine already holds."""

    status = 409
    code = "conflict"


class Unavailable(OrchestratorError):
    """Something the request needs is down now; retrying later may work."""

    status = 503
    code = "unavailable"


class UpstreamFailed(OrchestratorError):
    """Another program (Docker, an engine) refused or failed what we asked of it."""

    status = 502
    code = "upstream_failed"


class TimedOut(OrchestratorError):
    status = 504
    code = "timed_out"
