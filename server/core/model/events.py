"""Events (past tense): what changed, with what is needed to apply it to a view.

Each event class belongs to one channel (``channel`` class attribute): ``public`` events change
``PublicState`` and go to everyone, ``staff`` events change ``StaffState`` and go to moderators and
organisers only. Public events never name a moderator nor an anonymous asker; the service's event
log records the actor of every event, so who decided what is kept there. Staff events that
record a decision also carry ``by``, the staff member's person reference (``"staff:<id>"``).
Instants (``at``) are aware UTC.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Final, Literal, get_args

from pydantic import Field

from server.core.model.base import (
    Channel,
    Count,
    Id,
    Instant,
    LimitSeconds,
    Model,
    NoticeText,
    PersonRef,
    QuestionText,
    Seconds,
    SignedSeconds,
)
from server.core.model.polls import DraftPoll, NamedBallot, OptionId, PollResults, PublicPoll
from server.core.model.state import (
    PublicQuestion,
    QueueEntry,
    QueueOrder,
    Speech,
    StaffQuestion,
)
from server.core.model.statements import (
    PublicStatement,
    RejectionReason,
    StaffStatement,
    StatementDeadline,
    StatementWindow,
)


class BaseEvent(Model):
    channel: ClassVar[Channel]


class PublicEvent(BaseEvent):
    channel: ClassVar[Channel] = "public"


class StaffEvent(BaseEvent):
    channel: ClassVar[Channel] = "staff"


# -- stage (public) -------------------------------------------------------------------------------


class SegmentOpened(PublicEvent):
    """The segment is live; its queue starts empty and open. ``drift_s`` = opened − scheduled start."""

    type: Literal["segment.opened"] = "segment.opened"
    segment_id: Id
    at: Instant
    drift_s: SignedSeconds


class SegmentPaused(PublicEvent):
    type: Literal["segment.paused"] = "segment.paused"
    segment_id: Id
    at: Instant


class SegmentResumed(PublicEvent):
    type: Literal["segment.resumed"] = "segment.resumed"
    segment_id: Id
    at: Instant


class SegmentEnded(PublicEvent):
    """No segment is live any more. ``drift_s`` = ended − scheduled end."""

    type: Literal["segment.ended"] = "segment.ended"
    segment_id: Id
    at: Instant
    drift_s: SignedSeconds


class SpeechStarted(PublicEvent):
    """``speech`` has the floor; if it came from the queue, its entry leaves the waiting list."""

    type: Literal["speech.started"] = "speech.started"
    speech: Speech


class SpeechPaused(PublicEvent):
    type: Literal["speech.paused"] = "speech.paused"
    speech_id: Id
    at: Instant


class SpeechResumed(PublicEvent):
    """The clock runs again; ``paused_s`` is the new total of paused time."""

    type: Literal["speech.resumed"] = "speech.resumed"
    speech_id: Id
    at: Instant
    paused_s: Seconds


class SpeechLimitSet(PublicEvent):
    type: Literal["speech.limit_set"] = "speech.limit_set"
    speech_id: Id
    limit_s: LimitSeconds


class SpeechEnded(PublicEvent):
    """Nobody has the floor. Self-contained, so the sequence of these events is the speech
    history: ``speech`` as it was, ``at`` its end, ``duration_s`` excluding pauses."""

    type: Literal["speech.ended"] = "speech.ended"
    speech: Speech
    at: Instant
    duration_s: Seconds


class NoticePosted(PublicEvent):
    type: Literal["notice.posted"] = "notice.posted"
    text: NoticeText
    at: Instant


class NoticeCleared(PublicEvent):
    type: Literal["notice.cleared"] = "notice.cleared"
    at: Instant


# -- speakers queue (public) ----------------------------------------------------------------------


class FloorRequested(PublicEvent):
    """``entry`` joins the waiting list at index ``position`` (0 = next to speak)."""

    type: Literal["floor.requested"] = "floor.requested"
    entry: QueueEntry
    position: Count


class QueueEntryRemoved(PublicEvent):
    type: Literal["queue.entry_removed"] = "queue.entry_removed"
    entry_id: Id
    reason: Literal["withdrawn", "removed"]
    at: Instant


class QueueReordered(PublicEvent):
    """The waiting list is now in this order (a permutation of the waiting entries)."""

    type: Literal["queue.reordered"] = "queue.reordered"
    entry_ids: tuple[Id, ...]


class QueueOrderSet(PublicEvent):
    """The list of speakers is now ordered by ``order``; a ``queue.reordered`` follows when the
    waiting entries moved."""

    type: Literal["queue.order_set"] = "queue.order_set"
    order: QueueOrder
    at: Instant


class QueueClosed(PublicEvent):
    type: Literal["queue.closed"] = "queue.closed"
    at: Instant


class QueueOpened(PublicEvent):
    type: Literal["queue.opened"] = "queue.opened"
    at: Instant


# -- Q&A (public) ---------------------------------------------------------------------------------


class QuestionPublished(PublicEvent):
    """The question is on the board, status approved (first published, or again after a dismissal
    was undone and it was approved anew: ``votes`` is then 0 until the next tally)."""

    type: Literal["question.published"] = "question.published"
    question: PublicQuestion


class QuestionUnpublished(PublicEvent):
    """A published question was taken down (dismissed); a highlight on it is cleared."""

    type: Literal["question.unpublished"] = "question.unpublished"
    question_id: Id
    at: Instant


class QuestionVotesUpdated(PublicEvent):
    """New vote totals (coalesced), by question id."""

    type: Literal["question.votes_updated"] = "question.votes_updated"
    counts: dict[Id, Count]


class QuestionHighlighted(PublicEvent):
    """``question_id`` is now being answered (null: none)."""

    type: Literal["question.highlighted"] = "question.highlighted"
    question_id: Id | None
    at: Instant


class QuestionAnswered(PublicEvent):
    """Status ``answered``; a highlight on it is cleared."""

    type: Literal["question.answered"] = "question.answered"
    question_id: Id
    at: Instant


class QuestionArchived(PublicEvent):
    """Status ``archived``; a highlight on it is cleared."""

    type: Literal["question.archived"] = "question.archived"
    question_id: Id
    at: Instant


class QuestionUnarchived(PublicEvent):
    """Back from the archive with ``status`` (answered if it had been answered, else approved)."""

    type: Literal["question.unarchived"] = "question.unarchived"
    question_id: Id
    status: Literal["approved", "answered"]
    at: Instant


# -- Q&A and presence (staff) ---------------------------------------------------------------------


class QuestionAsked(StaffEvent):
    """A new question, pending (with moderation off, ``question.approved`` follows at once)."""

    type: Literal["question.asked"] = "question.asked"
    question: StaffQuestion


class QuestionEdited(StaffEvent):
    type: Literal["question.edited"] = "question.edited"
    question_id: Id
    text: QuestionText
    by: PersonRef
    at: Instant


class QuestionApproved(StaffEvent):
    """The pending question leaves the staff list; its asker and edits move to ``provenance``.
    ``text`` is the published text; if it differs, the pending text becomes ``original_text``
    (unless already edited). ``by`` is null when moderation was off."""

    type: Literal["question.approved"] = "question.approved"
    question_id: Id
    text: QuestionText
    by: PersonRef | None
    at: Instant


class QuestionDismissed(StaffEvent):
    """``question`` (status dismissed) replaces the pending one or, if it was published, comes
    back from the board into the staff list (and leaves ``provenance``)."""

    type: Literal["question.dismissed"] = "question.dismissed"
    question: StaffQuestion
    by: PersonRef
    at: Instant


class QuestionUndismissed(StaffEvent):
    """The dismissed question is pending again."""

    type: Literal["question.undismissed"] = "question.undismissed"
    question_id: Id
    by: PersonRef
    at: Instant


class QaModerationSet(StaffEvent):
    type: Literal["qa.moderation_set"] = "qa.moderation_set"
    enabled: bool
    by: PersonRef
    at: Instant


class PresenceCountsUpdated(StaffEvent):
    """Online now, peak today and online by category (coalesced by the service)."""

    type: Literal["presence.counts_updated"] = "presence.counts_updated"
    online: Count
    peak_today: Count
    by_category: dict[str, Count]
    at: Instant


# -- polls ----------------------------------------------------------------------------------------


class PollPrepared(StaffEvent):
    """A new draft poll (staff only until it opens)."""

    type: Literal["poll.prepared"] = "poll.prepared"
    poll: DraftPoll


class PollDiscarded(StaffEvent):
    type: Literal["poll.discarded"] = "poll.discarded"
    poll_id: Id
    by: PersonRef
    at: Instant


class PollLaunched(StaffEvent):
    """The draft leaves the drafts (``poll.opened`` puts it on the public channel) and its tally
    starts at zero."""

    type: Literal["poll.launched"] = "poll.launched"
    poll_id: Id
    by: PersonRef
    at: Instant


class PollTallied(StaffEvent):
    """The poll's counts now (coalesced, or exact before closing and publishing). For a named poll,
    ``named`` holds the ballots new or changed since the last tally (by ``who``; the tally keeps
    the others), so the event stays small however many have voted; it is always empty for an
    anonymous poll."""

    type: Literal["poll.tallied"] = "poll.tallied"
    poll_id: Id
    ballots: Count
    counts: dict[OptionId, Count]
    named: tuple[NamedBallot, ...] = ()


class PollOpened(PublicEvent):
    """The poll takes ballots: its question and options, status ``open``, no results."""

    type: Literal["poll.opened"] = "poll.opened"
    poll: PublicPoll


class PollClosed(PublicEvent):
    type: Literal["poll.closed"] = "poll.closed"
    poll_id: Id
    at: Instant


class PollResultsPublished(PublicEvent):
    """Everyone sees the poll's ``results`` from now on."""

    type: Literal["poll.results_published"] = "poll.results_published"
    poll_id: Id
    results: PollResults
    at: Instant


class PollResultsUpdated(PublicEvent):
    """New results of a published poll (coalesced)."""

    type: Literal["poll.results_updated"] = "poll.results_updated"
    poll_id: Id
    results: PollResults


# -- written statements (public and staff) ---------------------------------------------------------


class StatementsOpened(PublicEvent):
    """A segment ended with people waiting for the floor: each may now submit a statement for it."""

    type: Literal["statements.opened"] = "statements.opened"
    window: StatementWindow


class StatementsDeadlineSet(PublicEvent):
    """The organiser's new deadline rule, for every window, open or not yet."""

    type: Literal["statements.deadline_set"] = "statements.deadline_set"
    deadline: StatementDeadline
    at: Instant


class StatementPublished(PublicEvent):
    """An approved statement, now public under its segment."""

    type: Literal["statement.published"] = "statement.published"
    statement: PublicStatement


class StatementSubmitted(StaffEvent):
    """A new statement, or a new version replacing its author's pending or rejected one (same id):
    pending either way."""

    type: Literal["statement.submitted"] = "statement.submitted"
    statement: StaffStatement


class StatementApproved(StaffEvent):
    """The pending statement leaves the staff list; ``statement.published`` (public) follows."""

    type: Literal["statement.approved"] = "statement.approved"
    statement_id: Id
    by: PersonRef
    at: Instant


class StatementRejected(StaffEvent):
    """The pending statement is rejected, with the reason its author sees (null: none given)."""

    type: Literal["statement.rejected"] = "statement.rejected"
    statement_id: Id
    reason: RejectionReason | None
    by: PersonRef
    at: Instant


# -- the unions -----------------------------------------------------------------------------------
# One per part of the state that folds them (core.stage, core.speakers, core.qa, core.presence, core.polls);
# ``Event`` is their union, so a new event is listed once.

StageEvent = (
    SegmentOpened
    | SegmentPaused
    | SegmentResumed
    | SegmentEnded
    | SpeechStarted
    | SpeechPaused
    | SpeechResumed
    | SpeechLimitSet
    | SpeechEnded
    | NoticePosted
    | NoticeCleared
)
QueueEvent = FloorRequested | QueueEntryRemoved | QueueReordered | QueueClosed | QueueOpened | QueueOrderSet
PublicQaEvent = (
    QuestionPublished
    | QuestionUnpublished
    | QuestionVotesUpdated
    | QuestionHighlighted
    | QuestionAnswered
    | QuestionArchived
    | QuestionUnarchived
)
StaffQaEvent = (
    QuestionAsked | QuestionEdited | QuestionApproved | QuestionDismissed | QuestionUndismissed | QaModerationSet
)

PublicPollEvent = PollOpened | PollClosed | PollResultsPublished | PollResultsUpdated
StaffPollEvent = PollPrepared | PollDiscarded | PollLaunched | PollTallied
PublicStatementEvent = StatementsOpened | StatementsDeadlineSet | StatementPublished
StaffStatementEvent = StatementSubmitted | StatementApproved | StatementRejected

Event = Annotated[
    StageEvent
    | QueueEvent
    | PublicQaEvent
    | StaffQaEvent
    | PresenceCountsUpdated
    | PublicPollEvent
    | StaffPollEvent
    | PublicStatementEvent
    | StaffStatementEvent,
    Field(discriminator="type"),
]

EVENT_CLASSES: Final[tuple[type[BaseEvent], ...]] = get_args(get_args(Event)[0])
EVENT_CHANNELS: Final[dict[str, Channel]] = {cls.model_fields["type"].default: cls.channel for cls in EVENT_CLASSES}
