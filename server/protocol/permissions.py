"""Who may send each command: the single source for authorization.

``core.decide`` enforces it (``forbidden``); the websocket layer and the frontend may consult it to
refuse early or hide a button. Organisers can do everything moderators can; moderators and
organisers may also take part as attendees do (ask, vote, request the floor).
"""

from __future__ import annotations

from typing import Final

from server.protocol.base import Role
from server.protocol.commands import COMMANDS_BY_TYPE

_EVERYONE: Final[frozenset[Role]] = frozenset({"attendee", "moderator", "organiser"})
_STAFF: Final[frozenset[Role]] = frozenset({"moderator", "organiser"})

ALLOWED_ROLES: Final[dict[str, frozenset[Role]]] = {
    "segment.open": _STAFF,
    "segment.pause": _STAFF,
    "segment.resume": _STAFF,
    "segment.end": _STAFF,
    "floor.grant": _STAFF,
    "speech.pause": _STAFF,
    "speech.resume": _STAFF,
    "speech.end": _STAFF,
    "speech.set_limit": _STAFF,
    "notice.set": _STAFF,
    "notice.clear": _STAFF,
    "floor.request": _EVERYONE,
    "floor.withdraw": _EVERYONE,
    "queue.remove": _STAFF,
    "queue.reorder": _STAFF,
    "queue.close": _STAFF,
    "queue.open": _STAFF,
    "question.ask": _EVERYONE,
    "question.vote": _EVERYONE,
    "question.approve": _STAFF,
    "question.edit": _STAFF,
    "question.dismiss": _STAFF,
    "question.highlight": _STAFF,
    "question.answer": _STAFF,
    "question.archive": _STAFF,
    "question.restore": _STAFF,
    "qa.set_moderation": _STAFF,
    "ping": _EVERYONE,
    "resume": _EVERYONE,
}

assert set(ALLOWED_ROLES) == set(COMMANDS_BY_TYPE), "every command needs exactly one permission row"


def is_allowed(role: Role, command_type: str) -> bool:
    return role in ALLOWED_ROLES.get(command_type, frozenset())
