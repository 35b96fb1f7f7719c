"""Path convertors, registered with Starlette once, before any route is compiled.

``{name:id}`` is a row id: 1 to 2^53 - 1, the protocol's ``Id`` (the largest integer a JavaScript number
holds exactly). Starlette's ``int`` takes any run of digits, and SQLite raises ``OverflowError`` past
2^63 - 1: a 500 for a path that names nothing. Out of range, the id convertor answers 404 instead.
"""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException

from server.core.model.base import MAX_SAFE_INTEGER


class IdConvertor(Convertor[int]):
    # Any run of digits matches, so an id out of range still reaches this route (and its 404) instead
    # of falling through to the static files, which answer 405 to a POST.
    regex = "[0-9]+"

    def convert(self, value: str) -> int:
        # Route matching runs inside the exception middleware: the HTTPException becomes a 404 problem.
        if len(value) > len(str(MAX_SAFE_INTEGER)) or not 1 <= int(value) <= MAX_SAFE_INTEGER:
            raise HTTPException(404, f"no such id: {value[:40]}")
        return int(value)

    def to_string(self, value: int) -> str:
        if not 1 <= value <= MAX_SAFE_INTEGER:
            raise ValueError(f"id out of range: {value}")
        return str(value)


def register() -> None:
    """Idempotent; called from the package's ``__init__`` so every route module sees ``{…:id}``."""
    register_url_convertor("id", IdConvertor())
