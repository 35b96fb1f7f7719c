"""What one connection sees: the views for its role and its personal part of a snapshot."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from pydantic import JsonValue

from server.core.model import (
    CHANNELS_BY_ROLE,
    FloorRequested,
    OwnQuestion,
    Personal,
    PollPrepared,
    PublicQuestion,
    PublicState,
    QuestionAsked,
    QuestionPublished,
    Role,
    SpeechStarted,
    StaffQuestion,
    StaffState,
    StatementSubmitted,
)
from server.core.speakers import entry_of
from server.core.state import Actor, Emitted, LiveState
from server.core.statements import own_statements


def views_for(state: LiveState, role: Role) -> tuple[PublicState, StaffState | None]:
    """The public view for everyone; the staff view only for roles on the staff channel."""
    return state.public, state.staff if "staff" in CHANNELS_BY_ROLE[role] else None


def personal_view(
    state: LiveState,
    actor: Actor,
    voted: Iterable[int] = (),
    ballots: Mapping[int, Sequence[int]] | None = None,
) -> Personal:
    """``me`` of a snapshot: the user's waiting entry, own questions (pending ones are visible to
    their asker; dismissed ones are not shown: moderation decisions are staff-only), the
    published questions they voted for (``voted``, from the service's vote table), and their
    current ballot in each opened poll (``ballots``: poll id → option ids, from the ballots table)."""
    entry = entry_of(state.public.queue, actor.who)
    own: list[OwnQuestion] = [
        _own(q, anonymous=q.anonymous, status="pending")
        for q in state.staff.questions
        if q.asker.who == actor.who and q.status == "pending"
    ]
    published = {q.id: q for q in state.public.questions}
    own.extend(
        _own(published[question_id], anonymous=facts.anonymous, status="published")
        for question_id, facts in state.staff.provenance.items()
        if facts.asker.who == actor.who
    )
    return Personal(
        who=actor.who,
        role=actor.role,
        display_name=actor.display_name,
        waiting_entry_id=entry.id if entry else None,
        questions=tuple(sorted(own, key=lambda q: q.id)),
        voted=tuple(sorted(set(voted) & set(published))),
        ballots={
            poll_id: tuple(sorted(option_ids))
            for poll_id, option_ids in sorted((ballots or {}).items())
            if any(p.id == poll_id for p in state.public.polls)
        },
        statements=own_statements(state.public, state.staff, actor.who),
    )


def _own(q: StaffQuestion | PublicQuestion, *, anonymous: bool, status: Literal["pending", "published"]) -> OwnQuestion:
    return OwnQuestion(
        id=q.id,
        segment_id=q.segment_id,
        text=q.text,
        addressed_to=q.addressed_to,
        anonymous=anonymous,
        status=status,
        asked_at=q.asked_at,
    )


def result_data(emitted: Sequence[Emitted]) -> dict[str, JsonValue] | None:
    """The ``data`` of a ``result`` frame: what the command created, so the sender can find it.

    ``floor.request`` → ``{"entry_id", "position"}``; ``question.ask`` → ``{"question_id", "published"}``;
    ``floor.grant`` → ``{"speech_id"}``; ``poll.prepare`` → ``{"poll_id"}``; ``statement.submit`` →
    ``{"statement_id"}``; anything else → None.
    """
    data: dict[str, JsonValue] = {}
    for _, event in emitted:
        match event:
            case FloorRequested():
                data["entry_id"] = event.entry.id
                data["position"] = event.position
            case QuestionAsked():
                data["question_id"] = event.question.id
                data["published"] = False
            case QuestionPublished() if "question_id" in data:
                data["published"] = True
            case SpeechStarted():
                data["speech_id"] = event.speech.id
            case PollPrepared():
                data["poll_id"] = event.poll.id
            case StatementSubmitted():
                data["statement_id"] = event.statement.id
    return data or None
