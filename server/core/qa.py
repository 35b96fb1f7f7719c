"""Q&A: questions to the live segment, moderated, voted on, answered.

Life of a question: pending → approved → answered → archived, with dismissed off to the side.
Pending and dismissed questions are staff-only; approved, answered and archived ones are public.
``question.restore`` undoes a dismissal (back to pending) or an archiving (back to where it was).
``question.dismiss`` also takes a published question down, which moderation-off needs.

Votes: one per attendee per question, kept by the service in a unique (question, user) table,
because votes are the high-rate path and must not serialise on the live state. The core checks
that a question can be voted on (``decide`` on ``question.vote``) and turns the service's
coalesced totals into ``question.votes_updated`` (``record_vote_counts``). A question published
again after a dismissal starts at 0 votes in the event; the service re-tallies it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal, TypeVar

from server.core.model import (
    Asker,
    PublicQuestion,
    PublicState,
    QaModerationSet,
    QaSetModeration,
    QuestionAnswer,
    QuestionAnswered,
    QuestionApprove,
    QuestionApproved,
    QuestionArchive,
    QuestionArchived,
    QuestionAsk,
    QuestionAsked,
    QuestionDismiss,
    QuestionDismissed,
    QuestionEdit,
    QuestionEdited,
    QuestionHighlight,
    QuestionHighlighted,
    QuestionProvenance,
    QuestionPublished,
    QuestionRestore,
    QuestionUnarchived,
    QuestionUndismissed,
    QuestionUnpublished,
    QuestionVote,
    QuestionVotesUpdated,
    StaffQuestion,
    StaffState,
)
from server.core.model.events import PublicQaEvent, StaffQaEvent
from server.core.stage import segment_in_progress
from server.core.state import Actor, InconsistentEvent
from server.core.tx import Transaction, reject

# -- reading the state ----------------------------------------------------------------------------


def public_question(public: PublicState, question_id: int) -> PublicQuestion | None:
    return next((q for q in public.questions if q.id == question_id), None)


def staff_question(staff: StaffState, question_id: int) -> StaffQuestion | None:
    return next((q for q in staff.questions if q.id == question_id), None)


def rank_questions(
    questions: Iterable[PublicQuestion], order: Literal["votes", "time"] = "votes"
) -> list[PublicQuestion]:
    """``votes``: most votes first, then first asked first; ``time``: first asked first."""
    if order == "votes":
        return sorted(questions, key=lambda q: (-q.votes, q.asked_at, q.id))
    return sorted(questions, key=lambda q: (q.asked_at, q.id))


# -- applying events ------------------------------------------------------------------------------


Q = TypeVar("Q", PublicQuestion, StaffQuestion)


def _by_id(questions: Iterable[Q], question: Q) -> tuple[Q, ...]:
    """``questions`` with ``question`` added or replaced, kept in id order."""
    kept = [q for q in questions if q.id != question.id]
    kept.append(question)
    return tuple(sorted(kept, key=lambda q: q.id))


def _public(state: PublicState, question_id: int) -> PublicQuestion:
    question = public_question(state, question_id)
    if question is None:
        raise InconsistentEvent(f"question {question_id} is not published")
    return question


def _staff(state: StaffState, question_id: int, status: str) -> StaffQuestion:
    question = staff_question(state, question_id)
    if question is None or question.status != status:
        raise InconsistentEvent(f"question {question_id} is not {status}")
    return question


def _with_status(state: PublicState, question_id: int, **changes: object) -> PublicState:
    """Change a published question; a highlight on it goes when it stops being ``approved``."""
    question = _public(state, question_id).model_copy(update=changes)
    highlighted = state.highlighted_question_id
    if highlighted == question_id and question.status != "approved":
        highlighted = None
    questions = _by_id(state.questions, question)
    return state.model_copy(update={"questions": questions, "highlighted_question_id": highlighted})


def apply_public_qa(state: PublicState, event: PublicQaEvent) -> PublicState:
    match event:
        case QuestionPublished():
            if public_question(state, event.question.id) is not None:
                raise InconsistentEvent(f"question {event.question.id} is already published")
            return state.model_copy(update={"questions": _by_id(state.questions, event.question)})
        case QuestionUnpublished():
            _public(state, event.question_id)
            highlighted = state.highlighted_question_id
            return state.model_copy(
                update={
                    "questions": tuple(q for q in state.questions if q.id != event.question_id),
                    "highlighted_question_id": None if highlighted == event.question_id else highlighted,
                }
            )
        case QuestionVotesUpdated():
            for question_id in event.counts:
                _public(state, question_id)
            questions = tuple(
                q.model_copy(update={"votes": event.counts[q.id]}) if q.id in event.counts else q
                for q in state.questions
            )
            return state.model_copy(update={"questions": questions})
        case QuestionHighlighted():
            if event.question_id is not None and _public(state, event.question_id).status != "approved":
                raise InconsistentEvent(f"question {event.question_id} is not approved")
            return state.model_copy(update={"highlighted_question_id": event.question_id})
        case QuestionAnswered():
            return _with_status(state, event.question_id, status="answered", answered_at=event.at)
        case QuestionArchived():
            return _with_status(state, event.question_id, status="archived")
        case QuestionUnarchived():
            return _with_status(state, event.question_id, status=event.status)


def apply_staff_qa(state: StaffState, event: StaffQaEvent) -> StaffState:
    match event:
        case QuestionAsked():
            if staff_question(state, event.question.id) or event.question.id in state.provenance:
                raise InconsistentEvent(f"question {event.question.id} exists already")
            return state.model_copy(update={"questions": _by_id(state.questions, event.question)})
        case QuestionEdited():
            question = _staff(state, event.question_id, "pending")
            edited = question.model_copy(
                update={
                    "text": event.text,
                    "original_text": question.original_text or question.text,
                    "edited_by": event.by,
                    "edited_at": event.at,
                }
            )
            return state.model_copy(update={"questions": _by_id(state.questions, edited)})
        case QuestionApproved():
            question = _staff(state, event.question_id, "pending")
            changed = event.text != question.text
            provenance = QuestionProvenance(
                asker=question.asker,
                anonymous=question.anonymous,
                original_text=(question.original_text or question.text) if changed else question.original_text,
                edited_by=event.by if changed else question.edited_by,
                edited_at=event.at if changed else question.edited_at,
                approved_by=event.by,
                approved_at=event.at,
            )
            return state.model_copy(
                update={
                    "questions": tuple(q for q in state.questions if q.id != question.id),
                    "provenance": {**state.provenance, question.id: provenance},
                }
            )
        case QuestionDismissed():
            question_id = event.question.id
            current = staff_question(state, question_id)
            if (current is None or current.status != "pending") and question_id not in state.provenance:
                raise InconsistentEvent(f"question {question_id} is neither pending nor published")
            remaining = {k: v for k, v in state.provenance.items() if k != question_id}
            return state.model_copy(
                update={"questions": _by_id(state.questions, event.question), "provenance": remaining}
            )
        case QuestionUndismissed():
            question = _staff(state, event.question_id, "dismissed").model_copy(
                update={"status": "pending", "dismissed_by": None, "dismissed_at": None}
            )
            return state.model_copy(update={"questions": _by_id(state.questions, question)})
        case QaModerationSet():
            return state.model_copy(update={"moderation": event.enabled})


# -- deciding -------------------------------------------------------------------------------------


def _find(tx: Transaction, question_id: int) -> tuple[StaffQuestion | None, PublicQuestion | None]:
    staff, public = staff_question(tx.staff, question_id), public_question(tx.public, question_id)
    if staff is None and public is None:
        reject("not_found", f"there is no question {question_id}")
    return staff, public


def _pending(tx: Transaction, question_id: int) -> StaffQuestion:
    staff, public = _find(tx, question_id)
    if staff is None or staff.status != "pending":
        state = staff.status if staff else public.status if public else "unknown"
        reject("invalid_transition", f"question {question_id} is {state}, not pending")
    return staff


def _published(tx: Transaction, question_id: int) -> PublicQuestion:
    staff, public = _find(tx, question_id)
    if public is None:
        reject("invalid_transition", f"question {question_id} is {staff.status if staff else 'unknown'}")
    return public


def _approved(tx: Transaction, question_id: int) -> PublicQuestion:
    """A published question still open (approved): the one that may be highlighted or answered."""
    question = _published(tx, question_id)
    if question.status != "approved":
        reject("invalid_transition", f"question {question.id} is {question.status}, not approved")
    return question


def _publish(tx: Transaction, question: StaffQuestion, text: str, by: str | None) -> None:
    tx.emit(QuestionApproved(question_id=question.id, text=text, by=by, at=tx.now))
    anonymous = question.anonymous
    tx.emit(
        QuestionPublished(
            question=PublicQuestion(
                id=question.id,
                segment_id=question.segment_id,
                text=text,
                addressed_to=question.addressed_to,
                asker_name=None if anonymous else question.asker.name,
                asker_organisation=None if anonymous else question.asker.organisation,
                asked_at=question.asked_at,
                published_at=tx.now,
            )
        )
    )


def ask_question(tx: Transaction, command: QuestionAsk, actor: Actor) -> None:
    segment = segment_in_progress(tx.public)
    if segment is None:
        reject("no_live_segment", "no segment is live")
    if command.addressed_to is not None and all(p.id != command.addressed_to for p in segment.people):
        reject("not_found", f"person {command.addressed_to} is not in segment {segment.id}")
    question = StaffQuestion(
        id=tx.allocate("question"),
        segment_id=segment.id,
        text=command.text,
        addressed_to=command.addressed_to,
        anonymous=command.anonymous,
        asker=Asker(who=actor.who, name=actor.display_name, organisation=actor.organisation),
        asked_at=tx.now,
    )
    tx.emit(QuestionAsked(question=question))
    if not tx.staff.moderation:
        _publish(tx, question, question.text, by=None)


def check_vote(tx: Transaction, command: QuestionVote, actor: Actor) -> None:
    question = public_question(tx.public, command.question_id)
    if question is None:
        reject("not_found", f"question {command.question_id} is not published")
    if question.status == "archived":
        reject("invalid_transition", f"question {question.id} is archived")


def approve_question(tx: Transaction, command: QuestionApprove, actor: Actor) -> None:
    question = _pending(tx, command.question_id)
    _publish(tx, question, command.text or question.text, by=actor.who)


def edit_question(tx: Transaction, command: QuestionEdit, actor: Actor) -> None:
    question = _pending(tx, command.question_id)
    if command.text != question.text:
        tx.emit(QuestionEdited(question_id=question.id, text=command.text, by=actor.who, at=tx.now))


def dismiss_question(tx: Transaction, command: QuestionDismiss, actor: Actor) -> None:
    staff, public = _find(tx, command.question_id)
    decision = {"status": "dismissed", "dismissed_by": actor.who, "dismissed_at": tx.now}
    if staff is not None:
        if staff.status == "dismissed":
            reject("invalid_transition", f"question {staff.id} is already dismissed")
        tx.emit(QuestionDismissed(question=staff.model_copy(update=decision), by=actor.who, at=tx.now))
        return
    assert public is not None
    facts = tx.staff.provenance[public.id]
    dismissed = StaffQuestion(
        id=public.id,
        segment_id=public.segment_id,
        text=public.text,
        addressed_to=public.addressed_to,
        anonymous=facts.anonymous,
        asker=facts.asker,
        asked_at=public.asked_at,
        original_text=facts.original_text,
        edited_by=facts.edited_by,
        edited_at=facts.edited_at,
        status="dismissed",
        dismissed_by=actor.who,
        dismissed_at=tx.now,
    )
    tx.emit(QuestionUnpublished(question_id=public.id, at=tx.now))
    tx.emit(QuestionDismissed(question=dismissed, by=actor.who, at=tx.now))


def highlight_question(tx: Transaction, command: QuestionHighlight, actor: Actor) -> None:
    if command.question_id is not None:
        _approved(tx, command.question_id)
    if command.question_id != tx.public.highlighted_question_id:
        tx.emit(QuestionHighlighted(question_id=command.question_id, at=tx.now))


def answer_question(tx: Transaction, command: QuestionAnswer, actor: Actor) -> None:
    question = _approved(tx, command.question_id)
    tx.emit(QuestionAnswered(question_id=question.id, at=tx.now))


def archive_question(tx: Transaction, command: QuestionArchive, actor: Actor) -> None:
    question = _published(tx, command.question_id)
    if question.status == "archived":
        reject("invalid_transition", f"question {question.id} is already archived")
    tx.emit(QuestionArchived(question_id=question.id, at=tx.now))


def restore_question(tx: Transaction, command: QuestionRestore, actor: Actor) -> None:
    staff, public = _find(tx, command.question_id)
    if staff is not None and staff.status == "dismissed":
        tx.emit(QuestionUndismissed(question_id=staff.id, by=actor.who, at=tx.now))
    elif public is not None and public.status == "archived":
        status: Literal["approved", "answered"] = "answered" if public.answered_at else "approved"
        tx.emit(QuestionUnarchived(question_id=public.id, status=status, at=tx.now))
    else:
        state = staff.status if staff else public.status if public else "unknown"
        reject("invalid_transition", f"question {command.question_id} is {state}: nothing to restore")


def set_moderation(tx: Transaction, command: QaSetModeration, actor: Actor) -> None:
    if command.enabled != tx.staff.moderation:
        tx.emit(QaModerationSet(enabled=command.enabled, by=actor.who, at=tx.now))


def vote_counts(tx: Transaction, counts: Mapping[int, int]) -> None:
    """Publish the totals that changed; questions no longer published are skipped."""
    changed: dict[int, int] = {}
    for question_id, count in sorted(counts.items()):
        if count < 0:
            raise ValueError(f"negative vote count for question {question_id}")
        question = public_question(tx.public, question_id)
        if question is not None and question.votes != count:
            changed[question_id] = count
    if changed:
        tx.emit(QuestionVotesUpdated(counts=changed))
