"""Online counts read from presence rows, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from server.adapters.db.engine import make_async_engine, make_sessionmaker
from server.adapters.db.models import Event, Presence, Registration
from server.services.attendance import AttendanceService
from tests.fixtures.parley import ROOT, Parley

pytestmark = pytest.mark.anyio

T0 = datetime(2022, 10, 11, 14, 0, tzinfo=UTC)  # 10:00 in New York


async def test_the_peak_ignores_rows_closed_at_or_before_their_start(parley: Parley) -> None:
    """A socket closed at its last frame may end where it started (or, written by an older server,
    a moment before): such a row is no presence, and it must not stop the counts."""
    assert parley.cli("programme", "load", str(ROOT / "config/programmes/idm-2022-1.yaml")).returncode == 0
    engine = make_async_engine(parley.settings())
    sessions = make_sessionmaker(engine)
    try:
        async with sessions() as session, session.begin():
            event_id = (await session.execute(select(Event.id))).scalar_one()
            people = [
                Registration(
                    event_id=event_id, name=name, email=f"{name}@example.org", category="member_state", join_nonce="n"
                )
                for name in ("a", "b", "c", "d")
            ]
            session.add_all(people)
            await session.flush()
            a, b, c, d = (p.id for p in people)

            def presence(reg: int, start: timedelta, end: timedelta | None) -> Presence:
                return Presence(
                    event_id=event_id,
                    registration_id=reg,
                    connection_id=f"conn-{reg}-{start}",
                    server_id="s",
                    started_at=T0 + start,
                    last_seen_at=T0 + (end if end is not None else start),
                    ended_at=T0 + end if end is not None else None,
                )

            session.add_all(
                [
                    presence(a, timedelta(0), timedelta(minutes=30)),
                    presence(b, timedelta(minutes=10), timedelta(minutes=10, microseconds=-1)),  # before its start
                    presence(b, timedelta(minutes=12), timedelta(minutes=12)),  # empty
                    presence(c, timedelta(minutes=20), None),
                    presence(d, timedelta(minutes=40), timedelta(minutes=50)),
                ]
            )
        attendance = AttendanceService(sessions, "s")
        assert await attendance.peak_since(event_id, T0 - timedelta(hours=1)) == 2  # a and c, 10:20-10:30
        assert await attendance.peak_since(event_id, T0 + timedelta(minutes=35)) == 2  # c and d
        online, peak, by_category = await attendance.counts(event_id, now=T0 + timedelta(minutes=45))
        assert (online, peak, by_category) == (1, 2, {"member_state": 1})
    finally:
        await engine.dispose()
