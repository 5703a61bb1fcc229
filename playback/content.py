"""What a player asks for: exactly one of `id` (a content id) or `infohash`, both 40 hex
characters, and optional `file_indexes` (digits and commas). Anything else is refused before an
engine is touched."""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.errors import InvalidInput

_HEX40 = re.compile(r"^[0-9a-fA-F]{40}$")
_FILE_INDEXES = re.compile(r"^[0-9]{1,5}(,[0-9]{1,5}){0,31}$")
KINDS = {"id": "content_id", "infohash": "infohash"}


class BadPlaybackRequest(InvalidInput):
    status = 400
    code = "bad_request"


@dataclass(frozen=True)
class Content:
    kind: str  # "id" or "infohash", the engine's own parameter names
    value: str  # 40 hex, lower case
    file_indexes: str = ""

    @property
    def key(self) -> str:
        """One hub per key: two players of the same content share one engine session."""
        return f"{self.kind}:{self.value}" + (f":{self.file_indexes}" if self.file_indexes else "")

    @property
    def key_type(self) -> str:
        """The stream record's key_type (SPEC: content_id or infohash)."""
        return KINDS[self.kind]

    def engine_params(self) -> dict[str, str]:
        params = {self.kind: self.value, "format": "json"}
        if self.file_indexes:
            params["file_indexes"] = self.file_indexes
        return params


def parse(query: dict[str, list[str]]) -> Content:
    """From a parsed query string (name → values)."""
    given = {kind: query[kind] for kind in KINDS if kind in query}
    if len(given) != 1:
        raise BadPlaybackRequest("give exactly one of id (a content id) or infohash")
    kind, values = next(iter(given.items()))
    if len(values) != 1 or not _HEX40.match(values[0]):
        raise BadPlaybackRequest(f"{kind} must be 40 hexadecimal characters")
    indexes = query.get("file_indexes", [""])
    if len(indexes) != 1 or (indexes[0] and not _FILE_INDEXES.match(indexes[0])):
        raise BadPlaybackRequest("file_indexes must be numbers separated by commas, e.g. 0 or 0,2")
    return Content(kind, values[0].lower(), indexes[0])
