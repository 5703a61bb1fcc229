"""Who may call the API: a proxy with the Bearer key, or a logged-in staff user (panel, admin)."""

import hmac

from ninja.errors import HttpError
from ninja.utils import check_csrf

from .config import conf

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def api_key_or_staff(request):
    key = conf().API_KEY
    if not key:
        return True
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HttpError(401, "missing bearer token")
        if not hmac.compare_digest(token.strip().encode(), key.encode()):
            raise HttpError(403, "invalid token")
        return True
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        # A browser session is open to cross-site forgery; the Bearer key is not.
        if request.method not in SAFE_METHODS and check_csrf(request) is not None:
            raise HttpError(403, "CSRF check failed")
        return True
    raise HttpError(401, "missing bearer token")
