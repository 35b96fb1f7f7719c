"""Votes in batches: question votes and poll ballots written many to a transaction (group commit).

A vote (``question.vote``, ``poll.vote``) emits no event and changes no live state: it is checked
against the live state (``core.decide``) and recorded as a row. Applied one by one, as every other
command is, a vote storm (10,000 attendees voting within a minute) is one transaction per vote,
each taking the event's lock and its live state row in turn. Here every vote that arrives while a
batch is being written waits for the next batch, so the batch grows with the load by itself (one
vote when quiet, hundreds in a storm); each batch is one transaction, under the same lock and the
same live state row as any command, so a ballot still never lands in a poll closed in between.

Each vote is answered after its batch committed, exactly as it would have been alone, in the
order the votes arrived: a repeated command id gets the first answer (``command_results``, as for
every command), a vote the rules refuse gets its error and changes nothing, and a voter's later
vote in the same batch sees the earlier one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import JsonValue
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.adapters.db.models import CommandResult, PollBallot, QuestionVote
from server.core.decide import decide
from server.core.state import Actor, CommandRejected, LiveState
from server.protocol import PollVote
from server.protocol import QuestionVote as QuestionVoteCommand
from server.protocol.frames import ErrorFrame, ResultFrame

VoteCommand = QuestionVoteCommand | PollVote
BATCH_LIMIT = 1000
"""The most votes one transaction writes; the rest wait for the next (a bounded transaction)."""


@dataclass
class Ballot:
    """One vote waiting for its batch."""

    command: VoteCommand
    actor: Actor
    actor_key: str


@dataclass
class BatchOutcome:
    replies: list[ResultFrame | ErrorFrame] = field(default_factory=list)
    questions: set[int] = field(default_factory=set)  # whose totals changed
    polls: set[int] = field(default_factory=set)  # whose tallies changed


async def apply_ballots(
    session: AsyncSession, event_id: int, state: LiveState, batch: Sequence[Ballot], *, now: datetime
) -> BatchOutcome:
    """Check and record ``batch`` in ``session``'s transaction (the caller holds the event's lock
    and commits): one read of the earlier answers and of the voters' rows, one write of each kind."""
    outcome = BatchOutcome()
    voters = {b.actor_key for b in batch}
    cids = {b.command.cid for b in batch}
    earlier: dict[tuple[str, str], dict[str, JsonValue] | None] = {
        (actor, cid): result.get("data")
        for actor, cid, result in await session.execute(
            select(CommandResult.actor, CommandResult.cid, CommandResult.result).where(
                CommandResult.event_id == event_id, CommandResult.cid.in_(cids), CommandResult.actor.in_(voters)
            )
        )
    }
    question_voters = {b.actor_key for b in batch if isinstance(b.command, QuestionVoteCommand)}
    votes_before: set[tuple[int, str]] = set()
    if question_voters:
        votes_before = {
            (qid, voter)
            for qid, voter in await session.execute(
                select(QuestionVote.question_id, QuestionVote.voter).where(
                    QuestionVote.event_id == event_id, QuestionVote.voter.in_(question_voters)
                )
            )
        }
    poll_voters = {b.actor_key for b in batch if isinstance(b.command, PollVote)}
    ballots_before: dict[tuple[int, str], list[int]] = {}
    if poll_voters:
        ballots_before = {
            (pid, voter): sorted(int(o) for o in options)
            for pid, voter, options in await session.execute(
                select(PollBallot.poll_id, PollBallot.voter, PollBallot.option_ids).where(
                    PollBallot.event_id == event_id, PollBallot.voter.in_(poll_voters)
                )
            )
        }
    votes = set(votes_before)
    ballots = dict(ballots_before)
    answered: list[dict[str, object]] = []
    for ballot in batch:
        command, key = ballot.command, (ballot.actor_key, ballot.command.cid)
        if key in earlier:  # a repeated command id: the first answer, applied once
            outcome.replies.append(ResultFrame(cid=command.cid, data=earlier[key]))
            continue
        try:
            decide(state, command, actor=ballot.actor, now=now)  # a vote emits nothing: the check only
        except CommandRejected as exc:
            outcome.replies.append(ErrorFrame(cid=command.cid, code=exc.code, message=exc.message))
            continue
        data: dict[str, JsonValue]
        if isinstance(command, QuestionVoteCommand):
            vote = (command.question_id, ballot.actor_key)
            if command.up:
                votes.add(vote)
            else:
                votes.discard(vote)
            data = {"question_id": command.question_id, "up": command.up}
        else:
            ballots[(command.poll_id, ballot.actor_key)] = sorted(set(command.option_ids))
            data = {"poll_id": command.poll_id}  # never the choice: a stored answer
        earlier[key] = data
        answered.append({"event_id": event_id, "actor": ballot.actor_key, "cid": command.cid, "result": {"data": data}})
        outcome.replies.append(ResultFrame(cid=command.cid, data=data))
    await _write_votes(session, event_id, votes_before, votes, now=now)
    await _write_ballots(session, event_id, ballots_before, ballots, now=now)
    if answered:
        await session.execute(insert(CommandResult), answered)
    outcome.questions = {qid for qid, _voter in votes ^ votes_before}
    outcome.polls = {pid for (pid, voter), chosen in ballots.items() if ballots_before.get((pid, voter)) != chosen}
    return outcome


async def _write_votes(
    session: AsyncSession, event_id: int, before: set[tuple[int, str]], after: set[tuple[int, str]], *, now: datetime
) -> None:
    added = after - before
    if added:
        await session.execute(
            insert(QuestionVote), [{"event_id": event_id, "question_id": q, "voter": v, "at": now} for q, v in added]
        )
    for question_id, voter in before - after:  # withdrawn votes: rare, one statement each
        await session.execute(
            delete(QuestionVote).where(
                QuestionVote.event_id == event_id, QuestionVote.question_id == question_id, QuestionVote.voter == voter
            )
        )


async def _write_ballots(
    session: AsyncSession,
    event_id: int,
    before: dict[tuple[int, str], list[int]],
    after: dict[tuple[int, str], list[int]],
    *,
    now: datetime,
) -> None:
    new = [
        {"event_id": event_id, "poll_id": pid, "voter": voter, "option_ids": chosen, "at": now}
        for (pid, voter), chosen in after.items()
        if (pid, voter) not in before
    ]
    if new:
        await session.execute(insert(PollBallot), new)
    for (pid, voter), chosen in after.items():  # a changed mind: one statement each
        if (pid, voter) in before and before[(pid, voter)] != chosen:
            await session.execute(
                update(PollBallot)
                .where(PollBallot.event_id == event_id, PollBallot.poll_id == pid, PollBallot.voter == voter)
                .values(option_ids=chosen, at=now)
            )
