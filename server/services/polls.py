"""Poll ballots: one row per (poll, attendee) in ``poll_ballots``, and the tallies counted from them.

Ballots are written in batches (``services/ballots.py``), under the event's lock and its live
state row: a ballot is written in the same transaction that checked it against the live state
(``core.decide`` on ``poll.vote``), so no ballot lands in a poll closed in between. The tallies
are then published coalesced, like Q&A vote totals, and exactly before a poll closes or its
results are published (``LiveService.execute``).

The voter is kept as the actor key (``a:<registration id>``) so that a new ballot replaces the old
one. The tally of an anonymous poll never names anyone (``core.polls.tally_of``); the report
counts them by category without names (``reports.poll_tables``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.adapters.db.models import PollBallot, Registration
from server.core.model import PollTally, PublicPoll, person_ref
from server.core.polls import tally_of


def voter_ref(voter: str) -> str | None:
    """``a:3`` → ``attendee:3``; None for anything that is not an attendee's key."""
    kind, _, number = voter.partition(":")
    if kind != "a" or not number.isdigit():
        return None
    return person_ref("attendee", int(number))


async def ballots_of(session: AsyncSession, event_id: int, voter: str) -> dict[int, list[int]]:
    """``voter``'s current ballots: poll id → option ids (for their snapshot)."""
    rows = await session.execute(
        select(PollBallot.poll_id, PollBallot.option_ids).where(
            PollBallot.event_id == event_id, PollBallot.voter == voter
        )
    )
    return {poll_id: [int(o) for o in option_ids] for poll_id, option_ids in rows}


async def count_ballots(session: AsyncSession, event_id: int, polls: Iterable[PublicPoll]) -> dict[int, PollTally]:
    """The exact tally of each of ``polls`` from ``poll_ballots`` (with names for named polls)."""
    by_id = {p.id: p for p in polls}
    if not by_id:
        return {}
    ballots: defaultdict[int, dict[str, list[int]]] = defaultdict(dict)
    rows = await session.execute(
        select(PollBallot.poll_id, PollBallot.voter, PollBallot.option_ids).where(
            PollBallot.event_id == event_id, PollBallot.poll_id.in_(by_id)
        )
    )
    for poll_id, voter, option_ids in rows:
        who = voter_ref(voter)
        if who is not None:
            ballots[poll_id][who] = [int(o) for o in option_ids]
    named_voters = {who for pid, cast in ballots.items() if not by_id[pid].anonymous for who in cast}
    names = await _names(session, event_id, named_voters)
    return {pid: tally_of(poll, ballots.get(pid, {}), names) for pid, poll in by_id.items()}


async def _names(session: AsyncSession, event_id: int, voters: Collection[str]) -> dict[str, tuple[str, str | None]]:
    ids = {int(who.partition(":")[2]) for who in voters}
    if not ids:
        return {}
    rows = await session.execute(
        select(Registration.id, Registration.name, Registration.organisation).where(
            Registration.event_id == event_id, Registration.id.in_(ids)
        )
    )
    return {person_ref("attendee", rid): (name, organisation or None) for rid, name, organisation in rows}
