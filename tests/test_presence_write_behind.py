"""Presence rows written behind: a join writes nothing, a flush writes every waiting row in one
statement, and the rows are the ones the direct writes gave (closing one not written yet writes it
first; heartbeats seen before its flush are in it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from server.adapters.db.engine import make_async_engine, make_sessionmaker
from server.adapters.db.models import Event, Presence, Registration
from server.services.attendance import AttendanceService
from tests.fixtures.parley import ROOT, Parley

pytestmark = pytest.mark.anyio

T0 = datetime(2022, 10, 11, 14, 0, tzinfo=UTC)


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
