"""Presence rows: one half-open interval [started_at, ended_at) per attendee connection.

``last_seen_at`` advances with heartbeats (batched, one UPDATE per flush); a connection that ends
normally closes at that instant, one that stops answering closes at its last heartbeat, and a
sweep closes the intervals a crashed process left open at their last heartbeat too.

With ``write_behind`` (the live runtime), opening a row costs no database round trip: new rows
wait in memory and ``flush`` inserts them in one statement (the runtime flushes every quarter of
a second), so a join storm writes a few large batches instead of one
transaction per join. The rows are the same; closing one not yet written writes it first. A
process killed between a join and the next flush loses that join's row, at most one flush old.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, and_, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.adapters.db.models import Event, Presence, Registration
from server.core.attendance import Interval, peak_concurrent

_PRESENCE = cast(Table, Presence.__table__)  # a mapped class's table; the stubs promise a FromClause
_CLOSE = (
    update(_PRESENCE)
    .where(_PRESENCE.c.connection_id == bindparam("cid"), _PRESENCE.c.ended_at.is_(None))
    .values(ended_at=bindparam("at"), last_seen_at=bindparam("at"))
)
"""Close one connection's open row at ``at`` (executed with many parameter sets)."""


def presence_stale_after(*, heartbeat_s: float, idle_timeout_s: float) -> timedelta:
    """How old the ``last_seen_at`` of a live connection's open row can be; an older open row is a
    crashed process's. The one rule for the sweep that closes such rows and for the reports that
    read them before the sweep has run (both take their timings from ``PARLEY_HEARTBEAT_S`` and
    ``PARLEY_IDLE_TIMEOUT_S``).

    A socket is closed once silent for the idle timeout; its last frame reaches the row at the next
    heartbeat's batched write, and one heartbeat more covers a write that is late or slow.
    """
    return timedelta(seconds=idle_timeout_s + 2 * heartbeat_s)


class AttendanceService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        server_id: str,
        *,
        stale_after: timedelta,
        write_behind: bool = False,
    ) -> None:
        self._sessions = sessions
        self.server_id = server_id
        self.stale_after = stale_after
        self.write_behind = write_behind
        self._pending: dict[str, dict[str, object]] = {}  # connection id -> its row, not written yet
        self._flush_lock = asyncio.Lock()
        self._closing: set[str] = set()  # connections whose row is being closed, or failed to be
        self._closes: dict[str, datetime] = {}  # connection id -> its end, not written yet
        self._zones: dict[int, ZoneInfo] = {}
        self.rows_written = 0
        self.rows_closed = 0
        self.batches_written = 0

    async def open(self, *, event_id: int, registration_id: int, connection_id: str, at: datetime) -> None:
        row: dict[str, object] = {
            "event_id": event_id,
            "registration_id": registration_id,
            "connection_id": connection_id,
            "server_id": self.server_id,
            "started_at": at,
            "last_seen_at": at,
        }
        self._pending[connection_id] = row
        if not self.write_behind:
            await self.flush()

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def flush(self) -> None:
        """Write every row not written yet and every close waiting, in one transaction (one INSERT,
        one executemany UPDATE); on failure they wait for the next flush. Callers that queue on the
        lock while a flush runs find their work done by it: a leave storm is a few transactions, not
        one per socket."""
        async with self._flush_lock:
            if not self._pending and not self._closes:
                return
            rows = self._pending
            closes = self._closes
            self._pending, self._closes = {}, {}
            try:
                async with self._sessions() as session, session.begin():
                    if rows:
                        await session.execute(insert(Presence), list(rows.values()))
                    if closes:
                        await session.execute(
                            _CLOSE, [{"cid": cid, "at": at} for cid, at in closes.items()]
                        )  # one executemany
            except BaseException:
                self._pending = {**rows, **self._pending}
                self._closes = {**closes, **self._closes}
                raise
            self._closing -= closes.keys()
            self.rows_written += len(rows)
            self.rows_closed += len(closes)
            self.batches_written += 1

    async def close(self, connection_id: str, *, at: datetime) -> None:
        """End the connection's row at ``at``, in the next batch (with every row and close waiting);
        returns once it is written. Until then ``seen_now`` leaves the row alone; a close whose batch
        failed stays waiting, so the next flush writes it at ``at`` (a process that dies first leaves
        the row to the sweep, which closes it at its last heartbeat)."""
        self._closing.add(connection_id)
        self._closes[connection_id] = at
        await self.flush()

    async def seen_now(self, now: datetime, *, silent: Iterable[tuple[str, datetime]], leave: Iterable[str]) -> None:
        """Record a heartbeat of every open connection of this process: one statement sets
        ``last_seen_at`` to ``now`` on all this server's open rows, except the ``silent`` ones (they
        get their own last frame, as in ``seen``), those to ``leave`` alone (being closed as idle)
        and those being closed. At 10,000 sockets this replaces an UPDATE of 10,000 bound rows
        every heartbeat, which held the database's write lock (and the commands behind it) for
        most of a second. Rows not written yet take ``now`` in memory."""
        silent = list(silent)
        skip = {cid for cid, _ in silent} | set(leave) | self._closing
        for cid in self._pending.keys() - skip:
            self._seen_pending(cid, now)
        condition = and_(Presence.server_id == self.server_id, Presence.ended_at.is_(None), Presence.last_seen_at < now)
        if skip:
            condition = and_(condition, Presence.connection_id.not_in(skip))
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(Presence).where(condition).values(last_seen_at=now).execution_options(synchronize_session=False)
            )
        await self.seen(silent)

    async def seen(self, last_seen: Iterable[tuple[str, datetime]]) -> None:
        """Record the last heartbeat of many open connections in one transaction."""
        items = [(cid, at) for cid, at in last_seen if cid not in self._pending or self._seen_pending(cid, at)]
        if not items:
            return
        statement = (
            update(_PRESENCE)
            .where(
                _PRESENCE.c.connection_id == bindparam("cid"),
                _PRESENCE.c.ended_at.is_(None),
                _PRESENCE.c.last_seen_at < bindparam("at"),
            )
            .values(last_seen_at=bindparam("at"))
        )
        async with self._sessions() as session, session.begin():
            await session.execute(statement, [{"cid": cid, "at": at} for cid, at in items])  # one executemany

    def _seen_pending(self, connection_id: str, at: datetime) -> bool:
        row = self._pending.get(connection_id)
        if row is not None:
            row["last_seen_at"] = max(at, cast(datetime, row["last_seen_at"]))
            return False
        return True

    async def sweep(self, *, now: datetime, server_id: str | None = None) -> int:
        """Close intervals nobody has seen for ``stale_after`` (or all of one server's), at their last
        heartbeat: what a crashed process left open does not stay open."""
        condition = Presence.last_seen_at < now - self.stale_after
        if server_id is not None:
            condition = condition | (Presence.server_id == server_id)
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(Presence)
                .where(and_(Presence.ended_at.is_(None), condition))
                .values(ended_at=Presence.last_seen_at)
                .execution_options(synchronize_session=False)
            )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def counts(
        self, event_id: int, *, now: datetime, peak_known: tuple[datetime, int] | None = None
    ) -> tuple[int, int, dict[str, int]]:
        """(online now, peak today in the event's zone, online by category) from the database,
        so every replica counts the same attendees.

        The peak reads every presence row of the day (10,000 rows at 10,000 attendees); with
        ``peak_known`` = (the day's start, a peak read earlier that day) it is that peak or the
        online count now, whichever is higher, without reading the rows."""
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(Registration.category, func.count(func.distinct(Presence.registration_id)))
                    .join(Registration, Registration.id == Presence.registration_id)
                    .where(Presence.event_id == event_id, Presence.ended_at.is_(None))
                    .group_by(Registration.category)
                )
            ).all()
            by_category = {category: int(n) for category, n in rows}
            if event_id not in self._zones:
                zone = (await session.execute(select(Event.timezone).where(Event.id == event_id))).scalar_one()
                self._zones[event_id] = ZoneInfo(zone)
        online = sum(by_category.values())
        day_start = self.day_start(event_id, now)
        if peak_known is not None and peak_known[0] == day_start:
            peak = peak_known[1]
        else:
            peak = await self.peak_since(event_id, day_start)
        return online, max(peak, online), by_category

    def day_start(self, event_id: int, now: datetime) -> datetime:
        """Midnight of ``now``'s day in the event's zone (known once ``counts`` ran for it)."""
        return now.astimezone(self._zones[event_id]).replace(hour=0, minute=0, second=0, microsecond=0)

    async def peak_since(self, event_id: int, since: datetime) -> int:
        """Peak of distinct attendees online since ``since``: a sweep over join/leave instants."""
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(Presence.registration_id, Presence.started_at, Presence.ended_at).where(
                        Presence.event_id == event_id,
                        (Presence.ended_at.is_(None)) | (Presence.ended_at > since),
                    )
                )
            ).all()
        far = datetime.max.replace(tzinfo=UTC)
        by_person: dict[int, list[Interval]] = {}
        for reg, start, end in rows:
            start, end = max(start, since), end or far
            if end > start:  # an empty row (closed at its start) is no presence
                by_person.setdefault(reg, []).append(Interval(start, end))
        return peak_concurrent(by_person).present
