"""Applying events to the views: what every client does with the events it receives.

``apply_public`` folds a public event into ``PublicState``; ``apply_staff`` a staff event into
``StaffState``. They are the only code that changes a view (``decide`` uses them too), and the
frontend's ``store.js`` mirrors them. An event that does not fit raises ``InconsistentEvent``.
"""

from __future__ import annotations

from collections.abc import Iterable

from server.core.model import (
    Event,
    FloorRequested,
    NoticeCleared,
    NoticePosted,
    PollClosed,
    PollDiscarded,
    PollLaunched,
    PollOpened,
    PollPrepared,
    PollResultsPublished,
    PollResultsUpdated,
    PollTallied,
    PresenceCountsUpdated,
    PublicState,
    QaModerationSet,
    QuestionAnswered,
    QuestionApproved,
    QuestionArchived,
    QuestionAsked,
    QuestionDismissed,
    QuestionEdited,
    QuestionHighlighted,
    QuestionPublished,
    QuestionUnarchived,
    QuestionUndismissed,
    QuestionUnpublished,
    QuestionVotesUpdated,
    QueueClosed,
    QueueEntryRemoved,
    QueueOpened,
    QueueOrderSet,
    QueueReordered,
    SegmentEnded,
    SegmentOpened,
    SegmentPaused,
    SegmentResumed,
    SpeechEnded,
    SpeechLimitSet,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    StaffState,
    StatementApproved,
    StatementPublished,
    StatementRejected,
    StatementsDeadlineSet,
    StatementsOpened,
    StatementSubmitted,
)
from server.core.polls import apply_public_polls, apply_staff_polls
from server.core.presence import apply_presence
from server.core.qa import apply_public_qa, apply_staff_qa
from server.core.speakers import apply_queue
from server.core.stage import apply_stage
from server.core.state import Emitted, InconsistentEvent
from server.core.statements import apply_public_statements, apply_staff_statements


def apply_public(state: PublicState, event: Event) -> PublicState:
    match event:
        case (
            SegmentOpened()
            | SegmentPaused()
            | SegmentResumed()
            | SegmentEnded()
            | SpeechStarted()
            | SpeechPaused()
            | SpeechResumed()
            | SpeechLimitSet()
            | SpeechEnded()
            | NoticePosted()
            | NoticeCleared()
        ):
            return apply_stage(state, event)
        case (
            FloorRequested() | QueueEntryRemoved() | QueueReordered() | QueueClosed() | QueueOpened() | QueueOrderSet()
        ):
            return apply_queue(state, event)
        case (
            QuestionPublished()
            | QuestionUnpublished()
            | QuestionVotesUpdated()
            | QuestionHighlighted()
            | QuestionAnswered()
            | QuestionArchived()
            | QuestionUnarchived()
        ):
            return apply_public_qa(state, event)
        case PollOpened() | PollClosed() | PollResultsPublished() | PollResultsUpdated():
            return apply_public_polls(state, event)
        case StatementsOpened() | StatementsDeadlineSet() | StatementPublished():
            return apply_public_statements(state, event)
        case _:
            raise InconsistentEvent(f"{event.type} is a {event.channel} event, not a public one")


def apply_staff(state: StaffState, event: Event) -> StaffState:
    match event:
        case (
            QuestionAsked()
            | QuestionEdited()
            | QuestionApproved()
            | QuestionDismissed()
            | QuestionUndismissed()
            | QaModerationSet()
        ):
            return apply_staff_qa(state, event)
        case PresenceCountsUpdated():
            return apply_presence(state, event)
        case PollPrepared() | PollDiscarded() | PollLaunched() | PollTallied():
            return apply_staff_polls(state, event)
        case StatementSubmitted() | StatementApproved() | StatementRejected():
            return apply_staff_statements(state, event)
        case _:
            raise InconsistentEvent(f"{event.type} is a {event.channel} event, not a staff one")


def apply_all(public: PublicState, staff: StaffState, emitted: Iterable[Emitted]) -> tuple[PublicState, StaffState]:
    """Fold events of both channels, each into its view (what a staff client does)."""
    for channel, event in emitted:
        if channel == "public":
            public = apply_public(public, event)
        else:
            staff = apply_staff(staff, event)
    return public, staff
