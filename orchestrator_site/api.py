"""The proxy-facing API (wire-compatible with the original orchestrator; see shared/SPEC.md)."""

from django.core.exceptions import RequestDataTooBig
from ninja import NinjaAPI
from ninja.parser import Parser

from core.api import router as settings_router
from core.auth import api_key_or_staff
from core.errors import OrchestratorError
from engines.api.health import router as engine_health_router
from engines.api.router import router as engines_router
from playback.api.router import router as playback_router
from streams.api.router import router as streams_router
from vpn.api.router import router as vpn_router

from .status import router as status_router


class JsonParser(Parser):
    """JSON object bodies. An empty body or `null` counts as `{}` (every field of our POST bodies is
    optional and some clients send nothing); any other non-object is refused (400)."""

    def parse_body(self, request):
        if not request.body.strip():
            return {}
        data = super().parse_body(request)
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise ValueError("the request body must be a JSON object")
        return data


ERROR_RESPONSES = {
    400: "Malformed request body",
    401: "Missing or malformed bearer token",
    403: "Invalid token, CSRF failure or image not allowed",
    404: "Unknown id",
    409: "Conflict: a port or name is already in use",
    413: "Request body over 1 MiB",
    422: "Invalid input: the field path and the reason",
    502: "Docker could not start the container",
    503: "Provisioning blocked (detail: {error, code, message, recovery_eta_seconds, can_retry, "
         "should_wait}), or Docker unavailable",
    504: "The engine did not become ready in time (wait_ready)",
}


class OrchestratorAPI(NinjaAPI):
    """Documents the error answers every operation may give, all shaped `{"detail": ...}`."""

    def get_openapi_schema(self, *args, **kwargs):
        schema = super().get_openapi_schema(*args, **kwargs)
        error = {"type": "object", "properties": {"detail": {}}, "required": ["detail"]}
        for operations in schema["paths"].values():
            for operation in operations.values():
                for status, description in ERROR_RESPONSES.items():
                    operation["responses"].setdefault(str(status), {
                        "description": description,
                        "content": {"application/json": {"schema": error}},
                    })
        return schema


api = OrchestratorAPI(
    parser=JsonParser(),
    title="AceStream Orchestrator",
    version="1.0",
    description="Runs AceStream engines as Docker containers for streaming proxies such as acexy.",
    auth=api_key_or_staff,
    docs_url="/docs",
    openapi_url="/openapi.json",
    urls_namespace="api",
)
api.add_router("", engines_router)
api.add_router("", engine_health_router)
api.add_router("", streams_router)
api.add_router("", vpn_router)
api.add_router("", status_router)
api.add_router("", settings_router)
api.add_router("", playback_router)


@api.exception_handler(OrchestratorError)
def orchestrator_error(request, exc: OrchestratorError):
    """Every error the orchestrator reports in words, with the status it carries."""
    return api.create_response(request, {"detail": exc.detail()}, status=exc.status)


@api.exception_handler(RequestDataTooBig)
def body_too_big(request, exc):
    return api.create_response(request, {"detail": str(exc)}, status=413)
