"""The wire's own constants and error, on top of the core's building blocks.

Ids, texts, instants, roles, channels and error codes belong to the model
(``server.core.model.base``); they are re-exported here for the wire's modules.
"""

from __future__ import annotations

from typing import Final

from server.core.model.base import (
    CHANNELS,
    CHANNELS_BY_ROLE,
    ERROR_CODES,
    MAX_SAFE_INTEGER,
    ROLES,
    Channel,
    Cid,
    Count,
    Epoch,
    ErrorCode,
    Id,
    Instant,
    LimitSeconds,
    Model,
    NoticeText,
    OptionalShortLine,
    PersonKind,
    PersonRef,
    QuestionText,
    Role,
    Seconds,
    Seq,
    ShortLine,
    SignedSeconds,
    parse_person_ref,
    person_ref,
    require_type_tag,
)

PROTOCOL_VERSION: Final = 2
"""1: persons as bare numbers (``user_id``, ``by``); 2: persons as references (``who``, ``by``:
``"attendee:3"`` / ``"staff:3"``, see ``PersonRef``)."""
MAX_FRAME_BYTES: Final = 64 * 1024
"""A client frame over this size closes the connection (the websocket adapter enforces it)."""


class ProtocolError(Exception):
    """A client frame that is not a valid command; ``cid`` is echoed when it could be read."""

    def __init__(self, code: ErrorCode, message: str, *, cid: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code: ErrorCode = code
        self.message = message
        self.cid = cid


__all__ = [
    "CHANNELS", "CHANNELS_BY_ROLE", "ERROR_CODES", "MAX_FRAME_BYTES", "MAX_SAFE_INTEGER", "PROTOCOL_VERSION",
    "ROLES", "Channel", "Cid", "Count", "Epoch", "ErrorCode", "Id", "Instant", "LimitSeconds", "Model",
    "NoticeText", "OptionalShortLine", "PersonKind", "PersonRef", "ProtocolError", "QuestionText", "Role",
    "Seconds", "Seq", "ShortLine", "SignedSeconds", "parse_person_ref", "person_ref", "require_type_tag",
]  # fmt: skip
