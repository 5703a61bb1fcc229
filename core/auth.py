"""Who may call the API: a proxy with the Bearer key, or a logged-in staff user (panel, admin)."""

import hmac

from ninja.errors import HttpError
from ninja.utils import check_csrf

from . import api_key

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def bearer_refusal(request, key: str) -> tuple[int, str] | None:
    """None when the request carries `Authorization: Bearer <key>`; else the status and message
    to refuse it with (401 without a well-formed header, 403 for another key). The comparison
    takes the same time whatever the key given."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return 401, "missing bearer token"
    if not hmac.compare_digest(token.strip().encode(), key.encode()):
        return 403, "invalid token"
    return None


def has_api_key(request) -> bool:
    """For open routes that say more to a caller with the key (or when the API is open)."""
    key = api_key.current()
    return not key or bearer_refusal(request, key) is None


def _is_staff(request) -> bool:
    user = getattr(request, "user", None)
    return user is not None and user.is_authenticated and user.is_staff


def api_key_or_staff(request):
    key = api_key.current()
    if not key:
        return True
    if request.headers.get("Authorization"):
        if refusal := bearer_refusal(request, key):
            raise HttpError(*refusal)
        return True
    if _is_staff(request):
        # A browser session is open to cross-site forgery; the Bearer key is not.
        if request.method not in SAFE_METHODS and check_csrf(request) is not None:
            raise HttpError(403, "CSRF check failed")
        return True
    raise HttpError(401, "missing bearer token")
