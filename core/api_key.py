"""The API key in force, the one place that decides it:

    API_KEY set            that key (the environment wins; it cannot be rotated from the admin)
    OPEN_API=true          no key: the API is open (the operator's explicit choice, warned about)
    otherwise              a key generated on first start and kept in DATA_DIR/api-key (0600)

Every process reads the file through `current()`, which asks the file's identity (inode, mtime,
size: one stat) on each call and reads it again only when that changed, so a key rotated in the
admin is in force in every web process at its next request, without a restart. Writes go to a
temporary file first and are moved into place, so a reader never sees half a key.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from .config import conf
from .errors import Conflict

KEY_FILE = "api-key"
ENVIRONMENT, FILE, OPEN = "environment", "file", "open"

# (path, inode, mtime, size) of the file last read, and the key it held.
_cache: tuple[tuple, str] | None = None


def path() -> Path:
    return conf().DATA_DIR / KEY_FILE


def source() -> str:
    """Where the key in force comes from: "environment", "file" or "open" (none)."""
    cfg = conf()
    if cfg.API_KEY:
        return ENVIRONMENT
    return OPEN if cfg.OPEN_API else FILE


def current() -> str | None:
    """The key every API call must carry, or None when the API is open. A missing key file is
    created on the spot: without the operator's OPEN_API=true the API is never open."""
    cfg = conf()
    if cfg.API_KEY:
        return cfg.API_KEY
    if cfg.OPEN_API:
        return None
    return ensure()[0]


def _read(where: Path) -> str:
    """The file's key ("" when it is missing or blank), read again only when the file changed."""
    global _cache
    try:
        stat = os.stat(where)
    except FileNotFoundError:
        return ""
    identity = (str(where), stat.st_ino, stat.st_mtime_ns, stat.st_size)
    cached = _cache
    if cached is not None and cached[0] == identity:
        return cached[1]
    key = where.read_text().strip()
    _cache = (identity, key)
    return key


def _write(where: Path, key: str, replace: bool) -> bool:
    """Write `key` to `where` with mode 0600, whole or not at all. Without `replace` an existing
    file wins (two processes starting at once end up with one key): False then."""
    where.parent.mkdir(parents=True, exist_ok=True)
    temporary = where.with_name(f".{where.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    if replace:
        os.replace(temporary, where)
        return True
    try:
        os.link(temporary, where)
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(temporary)


def new_key() -> str:
    return secrets.token_urlsafe(32)


def ensure() -> tuple[str, bool]:
    """The file's key, generated now when there is none (or the file is blank); (key, created)."""
    where = path()
    key = _read(where)
    if key:
        return key, False
    key = new_key()
    if _write(where, key, replace=where.exists()):
        return key, True
    return _read(where), False  # another process created it first


def rotate() -> str:
    """Write a new key to the file and return it: in force for every process at once. Refused
    (Conflict) when the key comes from the environment or the API is open."""
    if source() == ENVIRONMENT:
        raise Conflict("the API key is set in the environment (API_KEY): change it there")
    if source() == OPEN:
        raise Conflict("the API is open (OPEN_API=true): there is no key to rotate")
    key = new_key()
    _write(path(), key, replace=True)
    return key
