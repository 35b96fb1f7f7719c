"""Who may send each state command: the single source for authorization.

``core.decide`` enforces it (``forbidden``); ``server.protocol.permissions`` adds the control frames,
and the websocket layer and the frontend may consult it to refuse early or hide a button.
Organisers can do everything moderators can; moderators and organisers may also take part as
attendees do (ask, vote on questions, request the floor, submit a statement when left waiting),
but not vote in polls. Only organisers set the event's deadline for written statements.
"""

from __future__ import annotations

from typing import Final

from server.core.model.base import Role
from server.core.model.commands import STATE_COMMANDS_BY_TYPE

EVERYONE: Final[frozenset[Role]] = frozenset({"attendee", "moderator", "organiser"})
_STAFF: Final[frozenset[Role]] = frozenset({"moderator", "organiser"})
ATTENDEES: Final[frozenset[Role]] = frozenset({"attendee"})
"""Poll ballots are for attendees only: the staff run the poll and see its tally."""
_ORGANISERS: Final[frozenset[Role]] = frozenset({"organiser"})

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
    "floor.request": EVERYONE,
    "floor.withdraw": EVERYONE,
    "queue.remove": _STAFF,
    "queue.reorder": _STAFF,
    "queue.set_order": _STAFF,
    "queue.close": _STAFF,
    "queue.open": _STAFF,
    "question.ask": EVERYONE,
    "question.vote": EVERYONE,
    "question.approve": _STAFF,
    "question.edit": _STAFF,
    "question.dismiss": _STAFF,
    "question.highlight": _STAFF,
    "question.answer": _STAFF,
    "question.archive": _STAFF,
    "question.restore": _STAFF,
    "qa.set_moderation": _STAFF,
    "poll.prepare": _STAFF,
    "poll.discard": _STAFF,
    "poll.open": _STAFF,
    "poll.close": _STAFF,
    "poll.publish": _STAFF,
    "poll.vote": ATTENDEES,
    "statement.submit": EVERYONE,
    "statement.approve": _STAFF,
    "statement.reject": _STAFF,
    "statements.set_deadline": _ORGANISERS,
}

assert set(ALLOWED_ROLES) == set(STATE_COMMANDS_BY_TYPE), "every command needs exactly one permission row"
