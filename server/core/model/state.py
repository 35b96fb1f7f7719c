"""The state shapes: what a snapshot holds and what events carry.

The live state is split by audience. ``PublicState`` is what every attendee sees; ``StaffState`` is
for moderators and organisers only. A question lives in exactly one of them: pending and dismissed
questions in ``StaffState.questions``, published ones (approved, answered, archived) in
``PublicState.questions``, with their staff-only facts (asker, edits, approval) in
``StaffState.provenance``.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field, model_validator

from server.core.model.base import (
    Count,
    Id,
    Instant,
    LimitSeconds,
    Model,
    NoticeText,
    OptionalShortLine,
    PersonRef,
    QuestionText,
    Role,
    Seconds,
    SignedSeconds,
)
from server.core.model.polls import DraftPoll, OptionId, PollTally, PublicPoll
from server.core.model.statements import OwnStatement, StaffStatement, StatementsBoard

SegmentKind = Literal["opening", "panel", "closing"]
SegmentStatus = Literal["scheduled", "live", "paused", "ended"]
PersonRole = Literal["moderator", "speaker"]
PublicQuestionStatus = Literal["approved", "answered", "archived"]
Category = Literal["member_state", "un_system", "intergovernmental", "civil_society", "academia", "media", "other"]
"""An attendee's category, as registered (``server.core.speaking_order`` ranks them)."""
QueueOrder = Literal["request", "category"]
"""How new ordinary requests are placed: by request time, or by category then request time."""
StaffQuestionStatus = Literal["pending", "dismissed"]


# -- programme ------------------------------------------------------------------------------------


class Person(Model):
    """A person of the programme (panel moderator or speaker), by the id the database gave them."""

    id: Id
    name: str
    role: PersonRole


class SegmentInfo(Model):
    """A segment as scheduled: what the service loads from the programme to start the live state."""

    id: Id
    key: str = Field(min_length=1, max_length=64)
    kind: SegmentKind
    day: date
    title: dict[str, str]
    starts_at: Instant
    ends_at: Instant
    people: tuple[Person, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> SegmentInfo:
        if self.ends_at <= self.starts_at:
            raise ValueError("a segment must end after it starts")
        ids = [person.id for person in self.people]
        if len(set(ids)) != len(ids):
            raise ValueError("a person is listed twice in the segment")
        return self


class Segment(SegmentInfo):
    """A segment with its live status and the instants it actually opened and ended."""

    status: SegmentStatus = "scheduled"
    opened_at: Instant | None = None
    ended_at: Instant | None = None


# -- stage ----------------------------------------------------------------------------------------


class Speech(Model):
    """Whoever has the floor: a queue entry (``entry_id``, and ``who`` requested it) or a programme
    person (``person_id``, an id of ``segments[].people``; ``who`` is null).

    Time spoken is ``(paused_at or now) - started_at - paused_s``.
    """

    id: Id
    segment_id: Id
    speaker_name: str
    organisation: str | None = None
    who: PersonRef | None = None
    entry_id: Id | None = None
    person_id: Id | None = None
    on_behalf_of: OptionalShortLine = None
    topic: OptionalShortLine = None
    point_of_order: bool = False
    started_at: Instant
    limit_s: LimitSeconds
    paused_at: Instant | None = None
    paused_s: Seconds = 0.0


class Notice(Model):
    """A short message shown to everyone ("the next panel starts at 10:52")."""

    text: NoticeText
    posted_at: Instant


class Stage(Model):
    live_segment_id: Id | None = None
    """The segment that is live or paused; at most one."""
    speech: Speech | None = None
    notice: Notice | None = None
    drift_s: SignedSeconds = 0.0
    """Lateness against the schedule when a segment last opened or ended (positive = late)."""


# -- speakers queue -------------------------------------------------------------------------------


class QueueEntry(Model):
    """A request for the floor, waiting. Speakers are public by nature, so is who they are."""

    id: Id
    who: PersonRef
    name: str
    organisation: str | None = None
    on_behalf_of: OptionalShortLine = None
    topic: OptionalShortLine = None
    point_of_order: bool = False
    requested_at: Instant
    category: Category | None = None
    """The requester's registered category; null for staff and for entries made before categories."""


class SpeakersQueue(Model):
    """The list of speakers of the live (or last) segment: ``waiting`` is in the order of the floor."""

    segment_id: Id | None = None
    open: bool = False
    waiting: tuple[QueueEntry, ...] = ()
    order: QueueOrder = "request"
    """Where new ordinary requests go (``queue.set_order``); kept from one segment to the next."""


# -- Q&A ------------------------------------------------------------------------------------------


class PublicQuestion(Model):
    """A published question. ``asker_name`` and ``asker_organisation`` are null when anonymous."""

    id: Id
    segment_id: Id
    text: QuestionText
    addressed_to: Id | None = None
    asker_name: str | None = None
    asker_organisation: str | None = None
    status: PublicQuestionStatus = "approved"
    votes: Count = 0
    asked_at: Instant
    published_at: Instant
    answered_at: Instant | None = None


class Asker(Model):
    who: PersonRef
    name: str
    organisation: str | None = None


class StaffQuestion(Model):
    """A pending or dismissed question; moderators always see who asked, even when anonymous."""

    id: Id
    segment_id: Id
    text: QuestionText
    addressed_to: Id | None = None
    anonymous: bool = False
    asker: Asker
    status: StaffQuestionStatus = "pending"
    asked_at: Instant
    original_text: str | None = None
    """The asker's own words, once a moderator has edited the text."""
    edited_by: PersonRef | None = None
    edited_at: Instant | None = None
    dismissed_by: PersonRef | None = None
    dismissed_at: Instant | None = None


class QuestionProvenance(Model):
    """The staff-only facts of a published question. ``approved_by`` is null when moderation was off."""

    asker: Asker
    anonymous: bool = False
    original_text: str | None = None
    edited_by: PersonRef | None = None
    edited_at: Instant | None = None
    approved_by: PersonRef | None = None
    approved_at: Instant


# -- presence -------------------------------------------------------------------------------------


class PresenceCounts(Model):
    online: Count = 0
    peak_today: Count = 0
    by_category: dict[str, Count] = Field(default_factory=dict)
    at: Instant | None = None


# -- the two views and the personal one -----------------------------------------------------------


class PublicState(Model):
    """Everything every attendee sees, the same for all."""

    segments: tuple[Segment, ...] = ()
    stage: Stage = Stage()
    queue: SpeakersQueue = SpeakersQueue()
    questions: tuple[PublicQuestion, ...] = ()
    """Published questions in the order they were asked (by id); rank them client-side."""
    highlighted_question_id: Id | None = None
    """The question now being answered; always an ``approved`` one."""
    polls: tuple[PublicPoll, ...] = ()
    """Opened polls (open, then closed), by id; ``results`` once published."""
    statements: StatementsBoard = StatementsBoard()
    """Written statements: the deadline rule, who may submit for which segment, the approved ones."""


class StaffState(Model):
    """What only moderators and organisers see."""

    moderation: bool = True
    questions: tuple[StaffQuestion, ...] = ()
    """Pending and dismissed questions, by id."""
    provenance: dict[Id, QuestionProvenance] = Field(default_factory=dict)
    """For every published question, by question id."""
    presence: PresenceCounts = PresenceCounts()
    draft_polls: tuple[DraftPoll, ...] = ()
    """Prepared polls not opened yet, by id."""
    poll_tallies: dict[Id, PollTally] = Field(default_factory=dict)
    """The live tally of every opened poll, by poll id."""
    statements: tuple[StaffStatement, ...] = ()
    """Pending and rejected written statements, by id (approved ones are public)."""


class OwnQuestion(Model):
    """One of the user's own questions: pending ones are visible to their asker only."""

    id: Id
    segment_id: Id
    text: str
    addressed_to: Id | None = None
    anonymous: bool = False
    status: Literal["pending", "published"]
    asked_at: Instant


class Personal(Model):
    """The part of a snapshot that is about the connected user: ``who`` is how the state names them
    (compare it with a queue entry's, a speech's or an asker's ``who``)."""

    who: PersonRef
    role: Role
    display_name: str
    waiting_entry_id: Id | None = None
    questions: tuple[OwnQuestion, ...] = ()
    voted: tuple[Id, ...] = ()
    """Ids of the published questions this user has voted for."""
    ballots: dict[Id, tuple[OptionId, ...]] = Field(default_factory=dict)
    """This user's current ballot in each opened poll they voted in: poll id → option ids."""
    statements: tuple[OwnStatement, ...] = ()
    """The user's own written statements, whatever their status, by id."""


class Forecast(Model):
    """Computed from the state and the clock (``core.forecast``); not stored."""

    day: date | None = None
    drift_s: SignedSeconds = 0.0
    forecast_end_of_day: Instant | None = None
    speech_elapsed_s: Seconds | None = None
    over_time_s: Seconds | None = None
