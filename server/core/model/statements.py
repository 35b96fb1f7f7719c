"""Written statements: the shapes of the state (the events are in ``events.py``, the commands in
``commands.py``).

When a segment ends with delegations still waiting for the floor, each of them may submit a
written statement for that segment until a deadline the organiser sets; moderators approve or
reject them; approved ones are public. The rules are in ``server.core.statements``.

Who sees what: the windows (which segment left whom waiting, a fact the public queue already
showed), the deadline and the approved statements are public (``PublicState.statements``); pending
and rejected statements are staff-only (``StaffState.statements``); an author sees their own, with
its status and a rejection's reason, in ``me.statements`` of their snapshot.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints, model_validator

from server.core.model.base import (
    Id,
    Instant,
    Model,
    OptionalShortLine,
    PersonRef,
    _blank_to_none,
    _no_control_chars,
    _text,
)

STATEMENT_TEXT_LIMIT: Final = 10_000
"""The most characters any statement may have on the wire; ``PARLEY_STATEMENT_MAX_CHARS`` (at most
this) is the limit an event enforces. 10,000 code points stay under the 64 KiB frame limit."""
DEFAULT_STATEMENT_MAX_CHARS: Final = 5_000
DEFAULT_DEADLINE_AFTER_S: Final = 24 * 3600
"""Until the organiser sets one, statements are accepted for 24 hours after their segment ends."""
MAX_DEADLINE_AFTER_S: Final = 30 * 24 * 3600

StatementText = Annotated[str, _text(STATEMENT_TEXT_LIMIT), AfterValidator(_no_control_chars)]
"""1 to 10,000 characters after stripping (the event's limit may be lower); line breaks allowed."""
LanguageTag = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$", max_length=35)]
"""A language tag as in the programme's ``languages`` (``fr``, ``en``, ``pt-BR``)."""
RejectionReason = Annotated[str, _text(500), AfterValidator(_no_control_chars)]
OptionalRejectionReason = Annotated[RejectionReason | None, BeforeValidator(_blank_to_none)]
"""At most 500 characters; omitted, null or blank all mean none."""
DeadlineSeconds = Annotated[int, Field(ge=60, le=MAX_DEADLINE_AFTER_S)]
"""How long after its segment ends a window stays open: 1 minute to 30 days."""


# -- state ----------------------------------------------------------------------------------------


class StatementAuthor(Model):
    """A delegation that was waiting for the floor, as its queue entry named it."""

    who: PersonRef
    name: str
    organisation: str | None = None
    on_behalf_of: OptionalShortLine = None


class StatementWindow(Model):
    """A segment that ended with people waiting: each of ``eligible`` may submit one statement."""

    segment_id: Id
    opened_at: Instant
    """When the segment ended (a relative deadline counts from here)."""
    eligible: tuple[StatementAuthor, ...]


class StatementDeadline(Model):
    """Until when statements are accepted: ``after_s`` seconds after each segment's end, or one
    instant ``until`` for every segment. Exactly one of the two is set."""

    after_s: DeadlineSeconds | None = DEFAULT_DEADLINE_AFTER_S
    until: Instant | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> StatementDeadline:
        if (self.after_s is None) == (self.until is None):
            raise ValueError("give exactly one of after_s and until")
        return self


class PublicStatement(Model):
    """An approved statement, published under its segment in the language it was written in."""

    id: Id
    segment_id: Id
    author: StatementAuthor
    language: LanguageTag
    text: StatementText
    submitted_at: Instant
    published_at: Instant


class StatementsBoard(Model):
    """The public part: the deadline rule, the windows and the published statements (by id)."""

    deadline: StatementDeadline = StatementDeadline()
    windows: tuple[StatementWindow, ...] = ()
    published: tuple[PublicStatement, ...] = ()


class StaffStatement(Model):
    """A statement waiting for a moderator (``pending``) or turned down (``rejected``)."""

    id: Id
    segment_id: Id
    author: StatementAuthor
    language: LanguageTag
    text: StatementText
    status: Literal["pending", "rejected"] = "pending"
    submitted_at: Instant
    reason: RejectionReason | None = None
    decided_by: PersonRef | None = None
    decided_at: Instant | None = None


class OwnStatement(Model):
    """One of the user's own statements, with where it stands (``me.statements``)."""

    id: Id
    segment_id: Id
    language: LanguageTag
    text: str
    status: Literal["pending", "approved", "rejected"]
    submitted_at: Instant
    reason: str | None = None
