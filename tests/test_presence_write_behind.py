"""Presence rows written behind: a join writes nothing, a flush writes every waiting row in one
statement, and the rows are the ones the direct writes gave (closing one not written yet writes it
first; heartbeats seen before its flush are in it)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.adapters.db.engine import make_async_engine, make_sessionmaker
from server.adapters.db.models import Event, Presence, Registration
from server.services.attendance import AttendanceService
from tests.fixtures.parley import ROOT, Parley

pytestmark = pytest.mark.anyio

T0 = datetime(2022, 10, 11, 14, 0, tzinfo=UTC)


async def one_person(parley: Parley, sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    """The shipped event, loaded, with one registration: (event id, registration id)."""
    assert parley.cli("programme", "load", str(ROOT / "config/programmes/idm-2022-1.yaml")).returncode == 0
    async with sessions() as session, session.begin():
        event_id = (await session.execute(select(Event.id))).scalar_one()
        person = Registration(
            event_id=event_id, name="p", email="p@example.org", category="member_state", join_nonce="n"
        )
        session.add(person)
        await session.flush()
        return event_id, person.id


async def test_rows_wait_for_the_flush_and_come_out_as_direct_writes_would(parley: Parley) -> None:
    assert parley.cli("programme", "load", str(ROOT / "config/programmes/idm-2022-1.yaml")).returncode == 0
    engine = make_async_engine(parley.settings())
    sessions = make_sessionmaker(engine)

    async def rows() -> dict[str, tuple[datetime, datetime, datetime | None]]:
        async with sessions() as session:
            found = await session.execute(
                select(Presence.connection_id, Presence.started_at, Presence.last_seen_at, Presence.ended_at)
            )
            return {cid: (start, seen, end) for cid, start, seen, end in found}

    try:
        async with sessions() as session, session.begin():
            event_id = (await session.execute(select(Event.id))).scalar_one()
            people = [
                Registration(
                    event_id=event_id, name=n, email=f"{n}@example.org", category="member_state", join_nonce="n"
                )
                for n in ("a", "b", "c")
            ]
            session.add_all(people)
            await session.flush()
            a, b, c = (p.id for p in people)
        attendance = AttendanceService(sessions, "s", stale_after=timedelta(seconds=75), write_behind=True)
        for reg, cid in ((a, "ca"), (b, "cb"), (c, "cc")):
            await attendance.open(event_id=event_id, registration_id=reg, connection_id=cid, at=T0)
        assert await rows() == {} and attendance.pending == 3, "a join writes nothing"

        await attendance.seen([("ca", T0 + timedelta(seconds=15))])  # a heartbeat answered before the flush
        await attendance.close("cb", at=T0 + timedelta(seconds=20))  # closing a waiting row writes them all
        assert attendance.pending == 0 and attendance.batches_written == 1
        assert await rows() == {
            "ca": (T0, T0 + timedelta(seconds=15), None),
            "cb": (T0, T0 + timedelta(seconds=20), T0 + timedelta(seconds=20)),
            "cc": (T0, T0, None),
        }
        await attendance.flush()  # nothing waiting: no statement
        assert attendance.batches_written == 1
        await attendance.open(event_id=event_id, registration_id=a, connection_id="ca2", at=T0 + timedelta(minutes=1))
        await attendance.flush()
        assert (await rows())["ca2"] == (T0 + timedelta(minutes=1), T0 + timedelta(minutes=1), None)
        assert attendance.rows_written == 4 and attendance.batches_written == 2
    finally:
        await engine.dispose()


async def test_one_heartbeat_statement_leaves_silent_closing_and_other_servers_rows_alone(parley: Parley) -> None:
    """``seen_now``: every open row of this server takes the beat in one statement, except a silent
    socket's (its last frame), one being closed as idle, one whose close failed (it waits for the
    next flush, which closes it at its end), a closed row, and another server's rows."""
    engine = make_async_engine(parley.settings())
    sessions = make_sessionmaker(engine)
    try:
        event_id, reg = await one_person(parley, sessions)
        here = AttendanceService(sessions, "here", stale_after=timedelta(seconds=75), write_behind=True)
        there = AttendanceService(sessions, "there", stale_after=timedelta(seconds=75), write_behind=True)
        for cid in ("answering", "silent", "idle", "failed", "closed", "waiting"):
            await here.open(event_id=event_id, registration_id=reg, connection_id=cid, at=T0)
        await there.open(event_id=event_id, registration_id=reg, connection_id="elsewhere", at=T0)
        await there.flush()
        await here.close("closed", at=T0 + timedelta(seconds=5))  # writes the others' rows too
        await here.open(event_id=event_id, registration_id=reg, connection_id="waiting2", at=T0)  # not written yet

        async def failing_close() -> None:
            here._sessions = lambda: (_ for _ in ()).throw(OSError("database gone"))  # type: ignore[assignment, misc]
            with pytest.raises(OSError):
                await here.close("failed", at=T0 + timedelta(seconds=6))
            here._sessions = sessions

        await failing_close()
        beat = T0 + timedelta(seconds=15)
        await here.seen_now(beat, silent=[("silent", T0 + timedelta(seconds=3))], leave={"idle"})
        await here.flush()
        async with sessions() as session:
            seen = dict((await session.execute(select(Presence.connection_id, Presence.last_seen_at))).all())
        assert seen == {
            "answering": beat,
            "waiting": beat,
            "waiting2": beat,  # written after the beat, with it
            "silent": T0 + timedelta(seconds=3),
            "idle": T0,
            "failed": T0 + timedelta(seconds=6),  # its close, written by the next flush
            "closed": T0 + timedelta(seconds=5),
            "elsewhere": T0,
        }
    finally:
        await engine.dispose()


async def test_a_leave_storm_closes_its_rows_in_a_few_batches(parley: Parley) -> None:
    """Sockets closing together share transactions: each close returns once its row is closed, at
    its own end, and the closes that queue behind a running batch are written by the next one."""
    engine = make_async_engine(parley.settings())
    sessions = make_sessionmaker(engine)
    try:
        event_id, reg = await one_person(parley, sessions)
        attendance = AttendanceService(sessions, "s", stale_after=timedelta(seconds=75), write_behind=True)
        cids = [f"c{i}" for i in range(200)]
        for cid in cids:
            await attendance.open(event_id=event_id, registration_id=reg, connection_id=cid, at=T0)
        await attendance.flush()
        assert attendance.batches_written == 1

        updates: list[str] = []

        def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
            if statement.lstrip().upper().startswith("UPDATE"):
                updates.append(statement)

        event.listen(engine.sync_engine, "before_cursor_execute", count)
        ends = {cid: T0 + timedelta(seconds=10 + i) for i, cid in enumerate(cids)}
        await asyncio.gather(*(attendance.close(cid, at=ends[cid]) for cid in cids))
        event.remove(engine.sync_engine, "before_cursor_execute", count)
        assert attendance.rows_closed == 200
        assert 1 <= len(updates) <= 3, f"one statement per batch of closes, not one per socket: {len(updates)}"
        async with sessions() as session:
            found = dict((await session.execute(select(Presence.connection_id, Presence.ended_at))).all())
        assert found == ends
    finally:
        await engine.dispose()
