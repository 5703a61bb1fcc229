"""First-start setup that a newcomer should not have to do by hand."""

import secrets

from django.contrib.auth import get_user_model

from core.config import conf

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
