"""The configuration as start-up would read it from a given environment."""

import os
from unittest import mock

from core.config import Config, load_config


def config_from(environ: dict[str, str]) -> Config:
    """`load_config()` with exactly these variables set (pydantic-settings reads os.environ)."""
    with mock.patch.dict(os.environ, environ, clear=True):
        return load_config()
