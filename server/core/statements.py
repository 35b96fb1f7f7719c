"""Written statements: delegations not reached on the list of speakers write instead.

When a segment ends with people still waiting for the floor, ``segment.end`` also emits
``statements.opened``: a window for that segment naming each of them (``eligible``), recorded in
the state so that every later decision, and every replay, reads the same list. Until the deadline,
each of them may submit one statement for that segment (``statement.submit``), in one of the event's
languages and within its length limit; submitting again replaces a pending or rejected statement
under the same id. A moderator approves it (public from then on, under its segment) or rejects it
with an optional reason, which only its author and the staff see.

The deadline is one rule for the whole event, set by an organiser: ``after_s`` seconds after each
segment's end (24 hours until set), or one instant ``until``. It is checked with the command's
``now``, like every rule of the core. The event's languages and the length limit are not part of
the live state: the service passes them with each command (``StatementPolicy``), from the
programme and ``PARLEY_STATEMENT_MAX_CHARS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from server.core.model import (
    DEFAULT_STATEMENT_MAX_CHARS,
    OwnStatement,
    PublicState,
    PublicStatement,
    StaffState,
    StaffStatement,
    StatementApprove,
    StatementApproved,
    StatementAuthor,
    StatementDeadline,
    StatementPublished,
    StatementReject,
    StatementRejected,
    StatementsDeadlineSet,
    StatementsOpened,
    StatementsSetDeadline,
    StatementSubmit,
    StatementSubmitted,
    StatementWindow,
)
from server.core.model.events import PublicStatementEvent, StaffStatementEvent
from server.core.state import Actor, InconsistentEvent
from server.core.tx import Transaction, reject


@dataclass(frozen=True, slots=True)
class StatementPolicy:
    """What a statement must respect beyond the state: the event's limits, given by the service.

    ``languages``: the event's languages (its programme's ``languages``); empty accepts any tag.
    """

    max_chars: int = DEFAULT_STATEMENT_MAX_CHARS
    languages: tuple[str, ...] = ()


DEFAULT_POLICY = StatementPolicy()


# -- reading the state ----------------------------------------------------------------------------


def window_of(public: PublicState, segment_id: int) -> StatementWindow | None:
    return next((w for w in public.statements.windows if w.segment_id == segment_id), None)


def deadline_of(deadline: StatementDeadline, window: StatementWindow) -> datetime:
    """When ``window`` closes under the rule ``deadline``."""
    if deadline.until is not None:
        return deadline.until
    assert deadline.after_s is not None  # the model holds exactly one of the two
    return window.opened_at + timedelta(seconds=deadline.after_s)


def published_statement(public: PublicState, statement_id: int) -> PublicStatement | None:
    return next((s for s in public.statements.published if s.id == statement_id), None)


def staff_statement(staff: StaffState, statement_id: int) -> StaffStatement | None:
    return next((s for s in staff.statements if s.id == statement_id), None)


def own_statements(public: PublicState, staff: StaffState, who: str) -> tuple[OwnStatement, ...]:
    """``me.statements``: the person's statements, whatever their status, by id."""
    own = [
        OwnStatement(
            id=s.id,
            segment_id=s.segment_id,
            language=s.language,
            text=s.text,
            status=s.status,
            submitted_at=s.submitted_at,
            reason=s.reason,
        )
        for s in staff.statements
        if s.author.who == who
    ]
    own.extend(
        OwnStatement(
            id=s.id,
            segment_id=s.segment_id,
            language=s.language,
            text=s.text,
            status="approved",
            submitted_at=s.submitted_at,
        )
        for s in public.statements.published
        if s.author.who == who
    )
    return tuple(sorted(own, key=lambda s: s.id))


# -- applying events ------------------------------------------------------------------------------


def apply_public_statements(state: PublicState, event: PublicStatementEvent) -> PublicState:
    board = state.statements
    match event:
        case StatementsOpened():
            if window_of(state, event.window.segment_id) is not None:
                raise InconsistentEvent(f"statements for segment {event.window.segment_id} are already open")
            board = board.model_copy(update={"windows": (*board.windows, event.window)})
        case StatementsDeadlineSet():
            board = board.model_copy(update={"deadline": event.deadline})
        case StatementPublished():
            if published_statement(state, event.statement.id) is not None:
                raise InconsistentEvent(f"statement {event.statement.id} is already published")
            published = tuple(sorted((*board.published, event.statement), key=lambda s: s.id))
            board = board.model_copy(update={"published": published})
    return state.model_copy(update={"statements": board})


def _pending(state: StaffState, statement_id: int) -> StaffStatement:
    statement = staff_statement(state, statement_id)
    if statement is None or statement.status != "pending":
        raise InconsistentEvent(f"statement {statement_id} is not pending")
    return statement


def apply_staff_statements(state: StaffState, event: StaffStatementEvent) -> StaffState:
    match event:
        case StatementSubmitted():
            kept = [s for s in state.statements if s.id != event.statement.id]
            statements = tuple(sorted((*kept, event.statement), key=lambda s: s.id))
        case StatementApproved():
            _pending(state, event.statement_id)
            statements = tuple(s for s in state.statements if s.id != event.statement_id)
        case StatementRejected():
            rejected = _pending(state, event.statement_id).model_copy(
                update={"status": "rejected", "reason": event.reason, "decided_by": event.by, "decided_at": event.at}
            )
            statements = tuple(rejected if s.id == event.statement_id else s for s in state.statements)
    return state.model_copy(update={"statements": statements})


# -- deciding -------------------------------------------------------------------------------------


def open_windows(tx: Transaction, segment_id: int) -> None:
    """After ``segment.end``: the people still waiting on its list may submit a statement for it."""
    queue = tx.public.queue
    if queue.segment_id != segment_id or not queue.waiting or window_of(tx.public, segment_id) is not None:
        return
    eligible: dict[str, StatementAuthor] = {}
    for entry in queue.waiting:
        eligible.setdefault(
            entry.who,
            StatementAuthor(
                who=entry.who, name=entry.name, organisation=entry.organisation, on_behalf_of=entry.on_behalf_of
            ),
        )
    window = StatementWindow(segment_id=segment_id, opened_at=tx.now, eligible=tuple(eligible.values()))
    tx.emit(StatementsOpened(window=window))


def submit_statement(tx: Transaction, command: StatementSubmit, actor: Actor, policy: StatementPolicy) -> None:
    if not any(s.id == command.segment_id for s in tx.public.segments):
        reject("not_found", f"there is no segment {command.segment_id}")
    window = window_of(tx.public, command.segment_id)
    author = next((a for a in window.eligible if a.who == actor.who), None) if window else None
    if window is None or author is None:
        reject("not_eligible", f"segment {command.segment_id} did not end with you waiting for the floor")
    closes = deadline_of(tx.public.statements.deadline, window)
    if tx.now > closes:
        reject("deadline_passed", f"statements for segment {command.segment_id} closed at {closes:%Y-%m-%d %H:%M}Z")
    if len(command.text) > policy.max_chars:
        reject("invalid", f"text: at most {policy.max_chars} characters ({len(command.text)} given)")
    if policy.languages and command.language not in policy.languages:
        reject("invalid", f"language: one of {', '.join(policy.languages)}")
    mine = [
        s for s in tx.public.statements.published if s.segment_id == command.segment_id and s.author.who == actor.who
    ]
    if mine:
        reject("invalid_transition", f"your statement {mine[0].id} is already approved")
    earlier = next(
        (s for s in tx.staff.statements if s.segment_id == command.segment_id and s.author.who == actor.who), None
    )
    statement = StaffStatement(
        id=earlier.id if earlier is not None else tx.allocate("statement"),
        segment_id=command.segment_id,
        author=author,
        language=command.language,
        text=command.text,
        submitted_at=tx.now,
    )
    tx.emit(StatementSubmitted(statement=statement))


def _decidable(tx: Transaction, statement_id: int) -> StaffStatement:
    statement = staff_statement(tx.staff, statement_id)
    if statement is None:
        if published_statement(tx.public, statement_id) is not None:
            reject("invalid_transition", f"statement {statement_id} is already approved")
        reject("not_found", f"there is no statement {statement_id}")
    if statement.status != "pending":
        reject("invalid_transition", f"statement {statement_id} is {statement.status}, not pending")
    return statement


def approve_statement(tx: Transaction, command: StatementApprove, actor: Actor) -> None:
    statement = _decidable(tx, command.statement_id)
    tx.emit(StatementApproved(statement_id=statement.id, by=actor.who, at=tx.now))
    published = PublicStatement(
        id=statement.id,
        segment_id=statement.segment_id,
        author=statement.author,
        language=statement.language,
        text=statement.text,
        submitted_at=statement.submitted_at,
        published_at=tx.now,
    )
    tx.emit(StatementPublished(statement=published))


def reject_statement(tx: Transaction, command: StatementReject, actor: Actor) -> None:
    statement = _decidable(tx, command.statement_id)
    tx.emit(StatementRejected(statement_id=statement.id, reason=command.reason, by=actor.who, at=tx.now))


def set_deadline(tx: Transaction, command: StatementsSetDeadline, actor: Actor) -> None:
    deadline = StatementDeadline(after_s=command.after_s, until=command.until)
    if deadline != tx.public.statements.deadline:
        tx.emit(StatementsDeadlineSet(deadline=deadline, at=tx.now))
