"""How a lower app asks a question of apps above it, which it must not import: it declares a
`Hook` with the answer that holds while nobody else answers, and the upper app registers its own
answer in its AppConfig.ready(). Django signals are for announcing; this is for asking."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Hook:
    """One question, one answering function."""

    def __init__(self, name: str, default: Callable[..., Any]):
        self.name = name
        self._answer = default

    def register(self, answer: Callable[..., Any]) -> Callable[..., Any]:
        self._answer = answer
        return answer

    def __call__(self, *args, **kwargs):
        return self._answer(*args, **kwargs)
