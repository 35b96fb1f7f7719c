"""The entry points of the rules: ``decide`` for a client command, and the two service-fed updates
(``record_vote_counts``, ``record_poll_tallies``, ``record_presence_counts``).

Each returns the new ``LiveState`` and the events to store and publish, in order, each with its
channel. Nothing else changes: on ``CommandRejected`` the old state is untouched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import assert_never

from server.core import polls, qa, speakers, stage, statements
from server.core.apply import apply_public, apply_staff
from server.core.model import (
    FloorGrant,
    FloorRequest,
    FloorWithdraw,
    NoticeClear,
    NoticeSet,
    PollClose,
    PollDiscard,
    PollOpen,
    PollPrepare,
    PollPublish,
    PollTally,
    PollVote,
    QaSetModeration,
    QuestionAnswer,
    QuestionApprove,
    QuestionArchive,
    QuestionAsk,
    QuestionDismiss,
    QuestionEdit,
    QuestionHighlight,
    QuestionRestore,
    QuestionVote,
    QueueClose,
    QueueOpen,
    QueueRemove,
    QueueReorder,
    QueueSetOrder,
    SegmentEnd,
    SegmentOpen,
    SegmentPause,
    SegmentResume,
    SpeechEnd,
    SpeechPause,
    SpeechResume,
    SpeechSetLimit,
    StateCommand,
    StatementApprove,
    StatementReject,
    StatementsSetDeadline,
    StatementSubmit,
)
from server.core.permissions import ALLOWED_ROLES
from server.core.presence import presence_counts
from server.core.speaking_order import DEFAULT_CATEGORY_ORDER
from server.core.state import Actor, CommandRejected, Emitted, LiveState, utc_instant
from server.core.statements import DEFAULT_POLICY, StatementPolicy
from server.core.tx import Transaction


def _transaction(state: LiveState, now: datetime) -> Transaction:
    return Transaction(state, now=utc_instant(now), apply_public=apply_public, apply_staff=apply_staff)


def decide(
    state: LiveState,
    command: StateCommand,
    *,
    actor: Actor,
    now: datetime,
    rehearsal: bool = False,
    category_order: Sequence[str] = DEFAULT_CATEGORY_ORDER,
    statement_policy: StatementPolicy = DEFAULT_POLICY,
) -> tuple[LiveState, list[Emitted]]:
    """Check ``command`` against the role and the state; return the new state and its events.

    Raises ``CommandRejected`` (``forbidden`` for a role not in ``ALLOWED_ROLES``, or a state code
    listed in the command's docstring). ``now`` must be aware; events carry it in UTC. ``rehearsal``:
    the event is a rehearsal copy, whose segments may open on any day. ``category_order``: the
    event's speaking order of categories (``core.speaking_order``), for the list by category.
    ``statement_policy``: the event's languages and length limit for ``statement.submit``.
    """
    if actor.role not in ALLOWED_ROLES[command.type]:
        raise CommandRejected("forbidden", f"{command.type} is not allowed for {actor.role}s")
    tx = _transaction(state, now)
    match command:
        case SegmentOpen():
            stage.open_segment(tx, command, actor, rehearsal=rehearsal)
        case SegmentPause():
            stage.pause_segment(tx, command, actor)
        case SegmentResume():
            stage.resume_segment(tx, command, actor)
        case SegmentEnd():
            polls.close_with_segment(tx, command.segment_id)
            stage.end_segment(tx, command, actor)
            statements.open_windows(tx, command.segment_id)
        case FloorGrant():
            stage.grant_floor(tx, command, actor)
        case SpeechPause():
            stage.pause_speech(tx, command, actor)
        case SpeechResume():
            stage.resume_speech(tx, command, actor)
        case SpeechEnd():
            stage.end_speech(tx, command, actor)
        case SpeechSetLimit():
            stage.set_speech_limit(tx, command, actor)
        case NoticeSet():
            stage.set_notice(tx, command, actor)
        case NoticeClear():
            stage.clear_notice(tx, command, actor)
        case FloorRequest():
            speakers.request_floor(tx, command, actor, category_order=category_order)
        case FloorWithdraw():
            speakers.withdraw_request(tx, command, actor)
        case QueueRemove():
            speakers.remove_entry(tx, command, actor)
        case QueueReorder():
            speakers.reorder_queue(tx, command, actor)
        case QueueSetOrder():
            speakers.set_queue_order(tx, command, actor, category_order=category_order)
        case QueueClose():
            speakers.close_queue(tx, command, actor)
        case QueueOpen():
            speakers.open_queue(tx, command, actor)
        case QuestionAsk():
            qa.ask_question(tx, command, actor)
        case QuestionVote():
            qa.check_vote(tx, command, actor)
        case QuestionApprove():
            qa.approve_question(tx, command, actor)
        case QuestionEdit():
            qa.edit_question(tx, command, actor)
        case QuestionDismiss():
            qa.dismiss_question(tx, command, actor)
        case QuestionHighlight():
            qa.highlight_question(tx, command, actor)
        case QuestionAnswer():
            qa.answer_question(tx, command, actor)
        case QuestionArchive():
            qa.archive_question(tx, command, actor)
        case QuestionRestore():
            qa.restore_question(tx, command, actor)
        case QaSetModeration():
            qa.set_moderation(tx, command, actor)
        case PollPrepare():
            polls.prepare_poll(tx, command, actor)
        case PollDiscard():
            polls.discard_poll(tx, command, actor)
        case PollOpen():
            polls.open_poll_for_ballots(tx, command, actor)
        case PollClose():
            polls.close_poll(tx, command, actor)
        case PollPublish():
            polls.publish_results(tx, command, actor)
        case PollVote():
            polls.check_ballot(tx, command, actor)
        case StatementSubmit():
            statements.submit_statement(tx, command, actor, statement_policy)
        case StatementApprove():
            statements.approve_statement(tx, command, actor)
        case StatementReject():
            statements.reject_statement(tx, command, actor)
        case StatementsSetDeadline():
            statements.set_deadline(tx, command, actor)
        case _:
            assert_never(command)
    return tx.result()


def record_vote_counts(
    state: LiveState, counts: Mapping[int, int], *, now: datetime
) -> tuple[LiveState, list[Emitted]]:
    """The service's coalesced vote totals (question id → votes) → ``question.votes_updated`` with
    the totals that changed (none: no event). Ids not published any more are skipped."""
    tx = _transaction(state, now)
    qa.vote_counts(tx, counts)
    return tx.result()


def record_poll_tallies(
    state: LiveState, tallies: Mapping[int, PollTally], *, now: datetime
) -> tuple[LiveState, list[Emitted]]:
    """The service's poll tallies (poll id → tally, from its ballots table) → ``poll.tallied``
    (staff) for those that changed and ``poll.results_updated`` (public) for published ones."""
    tx = _transaction(state, now)
    polls.record_tallies(tx, tallies)
    return tx.result()


def record_presence_counts(
    state: LiveState,
    *,
    online: int,
    peak_today: int,
    by_category: Mapping[str, int],
    now: datetime,
) -> tuple[LiveState, list[Emitted]]:
    """The service's coalesced presence counts → ``presence.counts_updated`` (staff) if changed."""
    tx = _transaction(state, now)
    presence_counts(tx, online, peak_today, by_category)
    return tx.result()
