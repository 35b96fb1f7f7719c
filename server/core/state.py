"""The live state of one event, who acts on it, and what a decision produces.

``LiveState`` is the whole truth the rules need: the public and staff views (exactly what the
clients see, so applying events to them is all a client does) and the id counters. The core
allocates entry, question and speech ids from the counters itself, so ``decide`` stays pure.
It is a pydantic model: the service may persist it as JSON (``model_dump_json`` /
``LiveState.model_validate_json``) next to the event log, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from server.core.model import (
    Category,
    Channel,
    ErrorCode,
    Event,
    PersonKind,
    PublicState,
    Role,
    Segment,
    SegmentInfo,
    StaffState,
    person_ref,
)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who sends a command, as the service authenticated them (role for this event).

    ``kind`` and ``user_id`` come from the session: an attendee registration or a staff account,
    numbered apart. The state names the actor by ``who`` only, never by the bare number.
    """

    user_id: int
    role: Role
    display_name: str
    organisation: str | None = None
    kind: PersonKind = field(kw_only=True)
    category: Category | None = field(default=None, kw_only=True)
    """The attendee's registered category (None for staff): where a request goes by category."""

    @property
    def who(self) -> str:
        """The actor's person reference (``"attendee:3"``, ``"staff:3"``)."""
        return person_ref(self.kind, self.user_id)


class Emitted(NamedTuple):
    channel: Channel
    event: Event


class CommandRejected(Exception):
    """The command is not allowed for the role or the state; nothing changed."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code: ErrorCode = code
        self.message = message


class InconsistentEvent(ValueError):
    """An event that does not fit the view it is applied to (a bug, or a client that missed one)."""


class Counters(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    next_entry_id: int = Field(1, ge=1)
    next_question_id: int = Field(1, ge=1)
    next_speech_id: int = Field(1, ge=1)
    next_poll_id: int = Field(1, ge=1)
    next_statement_id: int = Field(1, ge=1)


class LiveState(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    public: PublicState
    staff: StaffState
    counters: Counters = Counters()


def new_live_state(segments: Sequence[SegmentInfo], *, qa_moderation: bool = True) -> LiveState:
    """The state before anything happened: every segment scheduled, no speech, empty queue and Q&A.

    Segments are kept in schedule order (start, then id). Raises ``ValueError`` on duplicate ids.
    """
    ids = [segment.id for segment in segments]
    if len(set(ids)) != len(ids):
        raise ValueError("segment ids must be unique")
    ordered = sorted(segments, key=lambda segment: (segment.starts_at, segment.id))
    return LiveState(
        public=PublicState(segments=tuple(Segment(**dict(info)) for info in ordered)),
        staff=StaffState(moderation=qa_moderation),
    )


def utc_instant(now: datetime) -> datetime:
    """``now`` in UTC; a naive datetime is a programming error (the clock is the service's)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    return now.astimezone(UTC)


def seconds_between(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds()
