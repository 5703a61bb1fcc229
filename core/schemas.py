"""Field types shared by the API schemas: bounded, so hostile input is refused with a clear 422."""

import re
from typing import Annotated

from pydantic import AfterValidator, Field

MAX_MAP_ENTRIES = 100

_LABEL_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}$")
_NAME_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


def _checked_map(pattern: re.Pattern, what: str, max_value: int):
    def check(value: dict[str, str]) -> dict[str, str]:
        if len(value) > MAX_MAP_ENTRIES:
            raise ValueError(f"at most {MAX_MAP_ENTRIES} {what}s are accepted, got {len(value)}")
        for key, item in value.items():
            if not pattern.match(key):
                raise ValueError(f"{what} name {key[:60]!r} is not valid")
            if len(item) > max_value or "\x00" in item:
                raise ValueError(f"{what} {key!r} has a value over {max_value} characters or a NUL")
        return value

    return AfterValidator(check)


def _matches(pattern: re.Pattern, what: str):
    def check(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(f"{value[:80]!r} is not a valid {what}")
        return value

    return AfterValidator(check)


Labels = Annotated[dict[str, str], _checked_map(_LABEL_KEY, "label", 1024)]
EnvVars = Annotated[dict[str, str], _checked_map(_ENV_NAME, "environment variable", 8192)]
ImageRef = Annotated[str, _matches(_IMAGE, "image reference")]
NamePrefix = Annotated[str, _matches(_NAME_PREFIX, "container name prefix")]
Port = Annotated[int, Field(ge=1, le=65535)]
