"""What the orchestrator asks an engine about one of its streams, besides the collector's stats:
stop the session, and its live position. Both GET a URL the engine gave for the stream (checked
at stream_started to lead to that engine's own port) and read the engine's `{"response",
"error"}` answer."""

from __future__ import annotations

import httpx

from core.config import conf
from core.request_slots import waiting_elsewhere


def ask(url: str, params: dict | None = None) -> tuple[object, str]:
    """(the answer's `response`, '') or (None, why there is none: the engine could not be
    reached, answered something else than its JSON, or said an error)."""
    try:
        with waiting_elsewhere():
            answer = httpx.get(url, params=params, timeout=conf().HEALTH_CHECK_TIMEOUT_S)
    except httpx.HTTPError as exc:
        return None, f"the engine could not be asked: {exc.__class__.__name__}"
    if answer.status_code != 200:
        return None, f"the engine answered HTTP {answer.status_code}"
    try:
        document = answer.json()
    except ValueError:
        return None, "the engine's answer was not understood"
    if not isinstance(document, dict):
        return None, "the engine's answer was not understood"
    if document.get("error"):
        return None, f"the engine said: {str(document['error'])[:200]}"
    return document.get("response"), ""


def stop_session(command_url: str) -> str:
    """GET command_url?method=stop; '' when the engine confirmed, else why not."""
    if not command_url:
        return "no command URL was reported"
    return ask(command_url, {"method": "stop"})[1]


# The engine reports the live position as strings; older engines use the short names.
LIVEPOS_FIELDS = {
    "pos": ("pos",),
    "live_first": ("live_first", "first_ts", "first"),
    "live_last": ("live_last", "last_ts", "last"),
    "first_ts": ("first_ts", "first"),
    "last_ts": ("last_ts", "last"),
    "buffer_pieces": ("buffer_pieces",),
}


def live_position(stat_url: str) -> tuple[dict | None, str]:
    """The engine's live position of the stream, read from its stat URL: ({"has_livepos",
    "is_live", "livepos"?}, '') or (None, why it could not be read)."""
    response, problem = ask(stat_url)
    if problem:
        return None, problem
    if not isinstance(response, dict):
        return None, "the engine's answer has no stats"
    found = {"has_livepos": False, "is_live": response.get("is_live") in (1, True, "1")}
    livepos = response.get("livepos")
    if isinstance(livepos, dict):
        found["has_livepos"] = True
        found["livepos"] = {
            name: next((str(livepos[key]) for key in keys if livepos.get(key) is not None), None)
            for name, keys in LIVEPOS_FIELDS.items()}
    return found, ""
