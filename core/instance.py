"""This orchestrator's own name, kept in DATA_DIR: two orchestrators on one database (two hosts
behind a load balancer) tell their own playback sessions from the other's by it."""

import secrets
from functools import cache

from .config import conf


@cache
def instance_id() -> str:
    path = conf().DATA_DIR / "instance-id"
    if not path.exists():
        path.write_text(secrets.token_hex(8))
    return path.read_text().strip()
