"""First-start setup that a newcomer should not have to do by hand."""

import logging
import secrets

from django.contrib.auth import get_user_model

from core import api_key
from core.config import conf

log = logging.getLogger("orchestrator")

PASSWORD_FILE = "admin-password.txt"


def ensure_admin() -> str | None:
    """Create the first staff account when there is none. Its password is ADMIN_PASSWORD, or a
    generated one written once to DATA_DIR/admin-password.txt; returns a line to print, or None."""
    cfg = conf()
    users = get_user_model()
    if users.objects.filter(is_superuser=True).exists():
        return None
    password = cfg.ADMIN_PASSWORD or secrets.token_urlsafe(12)
    users.objects.create_superuser(username=cfg.ADMIN_USERNAME, email="", password=password)
    if cfg.ADMIN_PASSWORD:
        return f"created admin user {cfg.ADMIN_USERNAME!r} with the password from ADMIN_PASSWORD"
    path = cfg.DATA_DIR / PASSWORD_FILE
    path.write_text(f"{cfg.ADMIN_USERNAME}\n{password}\n")
    path.chmod(0o600)
    return (f"created admin user {cfg.ADMIN_USERNAME!r} with password {password} "
            f"(also saved in {path}; change it in /admin)")


OPEN_API_WARNING = ("OPEN_API=true and no API_KEY: the API is open, anyone who can reach this "
                    "port can start and remove containers")


def ensure_api_key() -> str | None:
    """The API key at start: generated once into DATA_DIR/api-key unless API_KEY is set or the
    operator opted out (OPEN_API=true: warned in the log instead). Returns a line to print: the
    key itself only when it was created now, like the first admin password."""
    where = api_key.source()
    if where == api_key.ENVIRONMENT:
        return "API key: from API_KEY"
    if where == api_key.OPEN:
        log.warning(OPEN_API_WARNING)
        return None
    key, created = api_key.ensure()
    if created:
        return (f"generated the API key {key} (saved in {api_key.path()}; proxies send it as "
                "'Authorization: Bearer <key>'; staff see and rotate it in /admin/api-key/)")
    return f"API key: kept in {api_key.path()} (staff see and rotate it in /admin/api-key/)"
