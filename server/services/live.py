"""The live session service: the only place that changes an event's live state.

Every change follows one path (``_change``): take the event's lock (a per-process asyncio lock and
the database row of ``live_states``, so replicas on one PostgreSQL serialise too), load the state,
let the pure core decide, append the events to ``event_log`` with the next ``seq`` of their
channel, store the new state, commit, and only then publish the encoded frames on the bus.
Both tables are written and read through ``server.core.records`` (JSON plus its format number).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from pydantic import JsonValue
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from server.adapters import metrics
from server.adapters.bus.base import Bus, BusUnavailable
from server.adapters.clock import Clock
from server.adapters.db.models import CommandResult, EventLogEntry, LiveStateRow, QuestionVote, Segment
from server.adapters.db.models import Event as EventRow
from server.core.decide import decide, record_poll_tallies, record_presence_counts, record_vote_counts
from server.core.forecast import forecast
from server.core.model import DEFAULT_STATEMENT_MAX_CHARS, Person, SegmentInfo
from server.core.polls import open_poll, public_poll
from server.core.records import (
    RecordError,
    decode_event,
    decode_state,
    encode_event,
    encode_state,
    event_record,
    state_record,
)
from server.core.speaking_order import DEFAULT_CATEGORY_ORDER
from server.core.state import Actor, CommandRejected, Emitted, LiveState, new_live_state
from server.core.statements import StatementPolicy
from server.core.views import personal_view, result_data, views_for
from server.protocol import (
    Channel,
    ChannelPosition,
    ChannelPositions,
    StateCommand,
    encode_frame,
)
from server.protocol import FloorRequest as FloorRequestCommand
from server.protocol import (
    PollClose as PollCloseCommand,
)
from server.protocol import (
    PollPublish as PollPublishCommand,
)
from server.protocol import (
    PollVote as PollVoteCommand,
)
from server.protocol import (
    QuestionVote as QuestionVoteCommand,
)
from server.protocol import QueueSetOrder as QueueSetOrderCommand
from server.protocol import (
    SegmentEnd as SegmentEndCommand,
)
from server.protocol import (
    SegmentOpen as SegmentOpenCommand,
)
from server.protocol import (
    StatementSubmit as StatementSubmitCommand,
)
from server.protocol.frames import ErrorFrame, EventFrame, ResultFrame, SnapshotFrame
from server.services import polls
from server.services.ballots import BATCH_LIMIT, Ballot, apply_ballots

log = logging.getLogger("parley.live")

REPLAY_LIMIT = 1000

Change = Callable[[LiveState, AsyncSession], Awaitable[tuple[LiveState, list[Emitted], dict[str, JsonValue] | None]]]


def _retrieved(future: asyncio.Future[ResultFrame | ErrorFrame]) -> None:
    if not future.cancelled():
        future.exception()


def topic(event_id: int, channel: Channel) -> str:
    return f"parley:event:{event_id}:{channel}"


@dataclass(frozen=True)
class Position:
    epoch: str
    public_seq: int
    staff_seq: int

    def seq(self, channel: Channel) -> int:
        return self.public_seq if channel == "public" else self.staff_seq


class LiveService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: Bus,
        *,
        clock: Clock,
        statement_max_chars: int = DEFAULT_STATEMENT_MAX_CHARS,
    ) -> None:
        self._sessions = sessions
        self._bus = bus
        self._clock = clock
        self._statement_max_chars = statement_max_chars
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._dirty_votes: defaultdict[int, set[int]] = defaultdict(set)
        self._dirty_polls: defaultdict[int, set[int]] = defaultdict(set)
        self._ballots: defaultdict[int, list[tuple[Ballot, asyncio.Future[ResultFrame | ErrorFrame]]]] = defaultdict(
            list
        )
        self._ballot_writers: dict[int, asyncio.Task[None]] = {}
        self.vote_batches = 0  # transactions that wrote votes (each one or many)
        self._decoded: dict[int, tuple[tuple[str, int, int, int], LiveState]] = {}
        """The last state decoded per event, by (epoch, public seq, staff seq, format): a stored state
        changes only with an event, so the commands that emit none (votes, refusals) and the reads
        between two events skip decoding the whole state again."""

    # --- the one write path ------------------------------------------------------------------------

    async def _initial_state(self, session: AsyncSession, event_id: int) -> LiveState:
        segments = (
            await session.execute(
                select(Segment)
                .where(Segment.event_id == event_id)
                .options(selectinload(Segment.people), selectinload(Segment.day))
                .order_by(Segment.starts_at, Segment.id)
            )
        ).scalars()
        return new_live_state(
            [
                SegmentInfo(
                    id=s.id,
                    key=s.key,
                    kind=s.kind,
                    day=s.day.date,
                    title=s.title,
                    starts_at=s.starts_at,
                    ends_at=s.ends_at,
                    people=tuple(Person(id=p.id, name=p.name, role=p.role) for p in s.people),
                )
                for s in segments
            ]
        )

    async def _locked_row(self, session: AsyncSession, event_id: int) -> LiveStateRow:
        """The event's state row, write-locked for this transaction (created on first use)."""
        lock = (
            update(LiveStateRow)
            .where(LiveStateRow.event_id == event_id)
            .values(updated_at=self._clock.now())
            .execution_options(synchronize_session=False)
        )
        if (await session.execute(lock)).rowcount == 0:  # type: ignore[attr-defined]
            state, state_format = encode_state(await self._initial_state(session, event_id))
            try:
                async with session.begin_nested():
                    session.add(
                        LiveStateRow(event_id=event_id, epoch=uuid.uuid4().hex[:16], state=state, format=state_format)
                    )
            except IntegrityError:  # another replica created it first: wait for its lock
                await session.execute(lock)
        return (await session.execute(select(LiveStateRow).where(LiveStateRow.event_id == event_id))).scalar_one()

    async def _change(
        self, event_id: int, change: Change, *, actor_key: str | None = None, cid: str | None = None
    ) -> dict[str, JsonValue] | None:
        async with self._locks[event_id]:
            frames: list[tuple[str, str]] = []
            async with self._sessions() as session, session.begin():
                row = await self._locked_row(session, event_id)
                if cid is not None and actor_key is not None:
                    previous = (
                        await session.execute(
                            select(CommandResult.result).where(
                                CommandResult.event_id == event_id,
                                CommandResult.actor == actor_key,
                                CommandResult.cid == cid,
                            )
                        )
                    ).scalar_one_or_none()
                    if previous is not None:
                        first: dict[str, JsonValue] | None = previous.get("data")
                        return first  # a repeated command id: the first answer, applied once
                state = self._decode(event_id, row)
                new_state, emitted, data = await change(state, session)
                now = self._clock.now()
                for channel, event in emitted:
                    if channel == "public":
                        row.public_seq += 1
                        seq = row.public_seq
                    else:
                        row.staff_seq += 1
                        seq = row.staff_seq
                    payload, payload_format = encode_event(event)
                    session.add(
                        EventLogEntry(
                            event_id=event_id,
                            channel=channel,
                            seq=seq,
                            type=event.type,
                            payload=payload,
                            format=payload_format,
                            actor=actor_key,
                            at=now,
                        )
                    )
                    frame = EventFrame(channel=channel, epoch=row.epoch, seq=seq, event=event)
                    frames.append((topic(event_id, channel), encode_frame(frame)))
                if emitted:
                    row.state, row.format = encode_state(new_state)
                    stored = ((row.epoch, row.public_seq, row.staff_seq, row.format), new_state)
                else:
                    stored = None
                if cid is not None and actor_key is not None:
                    session.add(CommandResult(event_id=event_id, actor=actor_key, cid=cid, result={"data": data}))
            if stored is not None:  # committed: the next command starts from it without decoding it
                self._decoded[event_id] = stored
            for name, text in frames:  # after commit, never before
                await self.publish(name, text)
            return data

    def _decode(self, event_id: int, row: LiveStateRow) -> LiveState:
        key = (row.epoch, row.public_seq, row.staff_seq, row.format)
        known = self._decoded.get(event_id)
        if known is not None and known[0] == key:
            return known[1]  # immutable models: shared safely
        state = decode_state(row.state, row.format, record=state_record(event_id))
        self._decoded[event_id] = (key, state)
        return state

    async def publish(self, name: str, text: str) -> None:
        try:
            await self._bus.publish(name, text)
            metrics.EVENTS_PUBLISHED.inc()
        except BusUnavailable as exc:
            # committed and in the event log: clients see the gap in the next heartbeat and replay
            log.warning("bus unavailable, %s not published now: %s", name, exc)

    # --- commands ----------------------------------------------------------------------------------

    async def execute(
        self, event_id: int, command: StateCommand, *, actor: Actor, actor_key: str
    ) -> ResultFrame | ErrorFrame:
        if isinstance(command, QuestionVoteCommand | PollVoteCommand):
            return await self._vote(event_id, Ballot(command, actor, actor_key))

        async def change(
            state: LiveState, session: AsyncSession
        ) -> tuple[LiveState, list[Emitted], dict[str, JsonValue] | None]:
            rehearsal = False
            if isinstance(command, SegmentOpenCommand):  # only opening a segment depends on it
                rehearsal = bool(await session.scalar(select(EventRow.is_rehearsal).where(EventRow.id == event_id)))
            policy = StatementPolicy(max_chars=self._statement_max_chars)
            if isinstance(command, StatementSubmitCommand):  # only a statement depends on the languages
                languages = await session.scalar(select(EventRow.languages).where(EventRow.id == event_id))
                policy = StatementPolicy(self._statement_max_chars, tuple(str(code) for code in languages or ()))
            exact: list[Emitted] = []
            if isinstance(command, PollCloseCommand | PollPublishCommand):
                state, exact = await self._exact_tally(session, event_id, state, command.poll_id)
            elif isinstance(command, SegmentEndCommand) and (closing := open_poll(state.public)) is not None:
                state, exact = await self._exact_tally(session, event_id, state, closing.id)
            category_order: Sequence[str] = DEFAULT_CATEGORY_ORDER
            if isinstance(command, FloorRequestCommand | QueueSetOrderCommand):  # only these place by category
                stored = await session.scalar(select(EventRow.speaking_order).where(EventRow.id == event_id))
                category_order = DEFAULT_CATEGORY_ORDER if stored is None else tuple(stored)
            new_state, emitted = decide(
                state,
                command,
                actor=actor,
                now=self._clock.now(),
                rehearsal=rehearsal,
                category_order=category_order,
                statement_policy=policy,
            )
            return new_state, [*exact, *emitted], result_data(emitted)

        try:
            data = await self._change(event_id, change, actor_key=actor_key, cid=command.cid)
        except CommandRejected as exc:
            return ErrorFrame(cid=command.cid, code=exc.code, message=exc.message)
        return ResultFrame(cid=command.cid, data=data)

    # --- votes, in batches (services/ballots.py) ----------------------------------------------------

    async def _vote(self, event_id: int, ballot: Ballot) -> ResultFrame | ErrorFrame:
        """Queue ``ballot`` for the next batch of its event and wait for its answer (after commit)."""
        answer: asyncio.Future[ResultFrame | ErrorFrame] = asyncio.get_running_loop().create_future()
        answer.add_done_callback(_retrieved)  # a voter gone before its batch failed: no "never retrieved"
        self._ballots[event_id].append((ballot, answer))
        if event_id not in self._ballot_writers:
            self._ballot_writers[event_id] = asyncio.create_task(
                self._write_ballots(event_id), name=f"ballots-{event_id}"
            )
        return await asyncio.shield(answer)  # a voter that leaves does not cancel the others' batch

    async def _write_ballots(self, event_id: int) -> None:
        """Write the event's waiting votes, a batch per transaction, until none wait: votes that
        arrive during a write form the next batch (group commit, no timer)."""
        try:
            while queue := self._ballots[event_id]:
                batch, self._ballots[event_id] = queue[:BATCH_LIMIT], queue[BATCH_LIMIT:]
                try:
                    replies = await self._apply_ballots(event_id, [ballot for ballot, _ in batch])
                except Exception as exc:  # the batch is rolled back: each voter is told, none half-applied
                    for _, answer in batch:
                        if not answer.done():
                            answer.set_exception(exc)
                    continue
                for (_, answer), reply in zip(batch, replies, strict=True):
                    if not answer.done():
                        answer.set_result(reply)
        finally:
            del self._ballot_writers[event_id]
            if self._ballots.get(event_id):  # cancelled with votes waiting: they must not hang
                for _, answer in self._ballots.pop(event_id):
                    answer.cancel()

    async def _apply_ballots(self, event_id: int, batch: list[Ballot]) -> list[ResultFrame | ErrorFrame]:
        async with self._locks[event_id]:
            async with self._sessions() as session, session.begin():
                row = await self._locked_row(session, event_id)
                state = self._decode(event_id, row)
                outcome = await apply_ballots(session, event_id, state, batch, now=self._clock.now())
            self.vote_batches += 1
        self._dirty_votes[event_id].update(outcome.questions)
        self._dirty_polls[event_id].update(outcome.polls)
        return outcome.replies

    async def _exact_tally(
        self, session: AsyncSession, event_id: int, state: LiveState, poll_id: int
    ) -> tuple[LiveState, list[Emitted]]:
        """The poll's tally brought to its ballots, so that closed and published counts are exact."""
        poll = public_poll(state.public, poll_id)
        if poll is None:
            return state, []
        tallies = await polls.count_ballots(session, event_id, [poll])
        return record_poll_tallies(state, tallies, now=self._clock.now())

    async def _record_polls(self, event_id: int, ids: set[int] | None) -> None:
        """Recount the ballots of ``ids`` (None: every opened poll) under the event's lock."""

        async def change(state: LiveState, session: AsyncSession) -> tuple[LiveState, list[Emitted], None]:
            wanted = [p for p in state.public.polls if ids is None or p.id in ids]
            tallies = await polls.count_ballots(session, event_id, wanted)
            new_state, emitted = record_poll_tallies(state, tallies, now=self._clock.now())
            return new_state, emitted, None

        await self._change(event_id, change)

    @staticmethod
    async def _count_votes(session: AsyncSession, event_id: int, ids: set[int]) -> dict[int, int]:
        """The recorded votes of ``ids`` (0 for none): ``question_votes`` is the truth for totals."""
        rows = await session.execute(
            select(QuestionVote.question_id, func.count())
            .where(QuestionVote.event_id == event_id, QuestionVote.question_id.in_(ids))
            .group_by(QuestionVote.question_id)
        )
        return {qid: 0 for qid in ids} | {qid: n for qid, n in rows}

    async def _record_votes(self, event_id: int, ids: set[int] | None) -> None:
        """Recount ``ids`` (None: every published question) under the event's lock; an event for the
        totals that changed."""

        async def change(state: LiveState, session: AsyncSession) -> tuple[LiveState, list[Emitted], None]:
            wanted = ids if ids is not None else {q.id for q in state.public.questions}
            counts = await self._count_votes(session, event_id, wanted) if wanted else {}
            new_state, emitted = record_vote_counts(state, counts, now=self._clock.now())
            return new_state, emitted, None

        await self._change(event_id, change)

    async def flush_votes(self) -> None:
        """Publish the new totals of the questions voted on since the last flush (coalesced)."""
        pending, self._dirty_votes = self._dirty_votes, defaultdict(set)
        for event_id, question_ids in pending.items():
            await self._record_votes(event_id, question_ids)
        pending_polls, self._dirty_polls = self._dirty_polls, defaultdict(set)
        for event_id, poll_ids in pending_polls.items():
            await self._record_polls(event_id, poll_ids)

    async def reconcile_votes(self) -> list[int]:
        """Bring every event's vote totals back to ``question_votes`` (and its poll tallies back to
        ``poll_ballots``, for the same reason); the events that were off.

        Run at start, before any socket is served. A vote is committed (and acknowledged) with its row
        in ``question_votes``, but its question is only marked for the next coalesced flush in this
        process's memory: a process killed in between (up to ``votes_s`` after the vote) leaves totals
        that miss votes (or keep withdrawn ones) until the next vote on the same question. Rebuilding
        from the table on start, rather than writing the total with each vote, keeps the coalescing (one
        ``question.votes_updated`` per event every ``votes_s`` however many votes arrive, instead of one
        frame per vote to every socket) and costs one read per event at start. The events are read
        first without the lock, so an event whose totals are right is not written.
        """
        async with self._sessions() as session:
            event_ids = list((await session.execute(select(LiveStateRow.event_id))).scalars())
        fixed = []
        for event_id in event_ids:
            state, _ = await self.state(event_id)
            if state.public.polls:  # poll tallies: the same reasoning, from poll_ballots
                async with self._sessions() as session:
                    counted = await polls.count_ballots(session, event_id, state.public.polls)
                if counted != state.staff.poll_tallies:
                    await self._record_polls(event_id, None)
                    fixed.append(event_id)
            shown = {q.id: q.votes for q in state.public.questions}
            if not shown:
                continue
            async with self._sessions() as session:
                recorded = await self._count_votes(session, event_id, set(shown))
            if recorded != shown:
                await self._record_votes(event_id, None)
                if event_id not in fixed:
                    fixed.append(event_id)
        return fixed

    async def record_presence(
        self, event_id: int, *, online: int, peak_today: int, by_category: dict[str, int]
    ) -> None:
        async def change(state: LiveState, session: AsyncSession) -> tuple[LiveState, list[Emitted], None]:
            new_state, emitted = record_presence_counts(
                state, online=online, peak_today=peak_today, by_category=by_category, now=self._clock.now()
            )
            return new_state, emitted, None

        await self._change(event_id, change)

    # --- reading -----------------------------------------------------------------------------------

    async def ensure_state(self, event_id: int) -> None:
        async def nothing(state: LiveState, session: AsyncSession) -> tuple[LiveState, list[Emitted], None]:
            return state, [], None

        await self._change(event_id, nothing)

    async def state(self, event_id: int) -> tuple[LiveState, Position]:
        async with self._sessions() as session:
            row = (
                await session.execute(select(LiveStateRow).where(LiveStateRow.event_id == event_id))
            ).scalar_one_or_none()
        if row is None:
            await self.ensure_state(event_id)
            return await self.state(event_id)
        state = self._decode(event_id, row)
        return state, Position(row.epoch, row.public_seq, row.staff_seq)

    async def position(self, event_id: int) -> Position | None:
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(LiveStateRow.epoch, LiveStateRow.public_seq, LiveStateRow.staff_seq).where(
                        LiveStateRow.event_id == event_id
                    )
                )
            ).one_or_none()
        return Position(*row) if row else None

    async def snapshot(self, event_id: int, *, actor: Actor, actor_key: str) -> SnapshotFrame:
        state, pos = await self.state(event_id)
        async with self._sessions() as session:
            voted = (
                await session.execute(
                    select(QuestionVote.question_id).where(
                        QuestionVote.event_id == event_id, QuestionVote.voter == actor_key
                    )
                )
            ).scalars()
            voted_ids = list(voted)
            ballots = await polls.ballots_of(session, event_id, actor_key) if actor.kind == "attendee" else {}
        public, staff = views_for(state, actor.role)
        channels = ChannelPositions(
            public=ChannelPosition(epoch=pos.epoch, seq=pos.public_seq),
            staff=ChannelPosition(epoch=pos.epoch, seq=pos.staff_seq) if staff is not None else None,
        )
        return SnapshotFrame(
            channels=channels,
            public=public,
            staff=staff,
            me=personal_view(state, actor, voted_ids, ballots),
            forecast=forecast(state, self._clock.now()),
        )

    async def voted(self, event_id: int, actor_key: str) -> list[int]:
        """The questions ``actor_key`` voted for (``me.voted`` of a snapshot)."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(QuestionVote.question_id).where(
                    QuestionVote.event_id == event_id, QuestionVote.voter == actor_key
                )
            )
            return list(rows.scalars())

    async def ballots(self, event_id: int, actor_key: str) -> dict[int, list[int]]:
        """``actor_key``'s current poll ballots (``me.ballots`` of a snapshot)."""
        async with self._sessions() as session:
            return await polls.ballots_of(session, event_id, actor_key)

    async def replay(self, event_id: int, channel: Channel, epoch: str, after_seq: int) -> list[str] | None:
        """The frames after ``after_seq``, in order; None when the client must resync instead."""
        pos = await self.position(event_id)
        if pos is None or pos.epoch != epoch or after_seq > pos.seq(channel):
            return None
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(EventLogEntry.id, EventLogEntry.seq, EventLogEntry.payload, EventLogEntry.format)
                    .where(
                        EventLogEntry.event_id == event_id,
                        EventLogEntry.channel == channel,
                        EventLogEntry.seq > after_seq,
                    )
                    .order_by(EventLogEntry.seq)
                    .limit(REPLAY_LIMIT + 1)
                )
            ).all()
        if len(rows) > REPLAY_LIMIT:
            return None
        try:
            return [
                encode_frame(
                    EventFrame(
                        channel=channel,
                        epoch=epoch,
                        seq=seq,
                        event=decode_event(payload, fmt, record=event_record(row_id, event_id, channel, seq)),
                    )
                )
                for row_id, seq, payload, fmt in rows
            ]
        except RecordError as exc:
            # a row this server cannot read (written by a newer one, or damaged): the snapshot is
            # still right, so the client resyncs instead of getting a hole in its history
            log.error("replay of %s after seq %d needs a resync: %s", channel, after_seq, exc)
            return None
