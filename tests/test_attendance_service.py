"""Online counts read from presence rows, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.adapters.db.engine import make_async_engine, make_sessionmaker, make_sync_engine
from server.adapters.db.models import Event, Presence, Registration
from server.entrypoints.ws.runtime import Timing
from server.services import reports
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
        attendance = AttendanceService(sessions, "s", stale_after=timedelta(seconds=75))
        assert await attendance.peak_since(event_id, T0 - timedelta(hours=1)) == 2  # a and c, 10:20-10:30
        assert await attendance.peak_since(event_id, T0 + timedelta(minutes=35)) == 2  # c and d
        online, peak, by_category = await attendance.counts(event_id, now=T0 + timedelta(minutes=45))
        assert (online, peak, by_category) == (1, 2, {"member_state": 1})
    finally:
        await engine.dispose()


@pytest.mark.parametrize("heartbeat_s", [15.0, 40.0, 120.0])
async def test_a_report_and_the_sweep_agree_on_which_open_rows_are_dead(parley: Parley, heartbeat_s: float) -> None:
    """An open row is a live connection's until its last heartbeat is older than one rule of the
    settings: the report (its worker task) and the sweep (the live runtime, as the app builds it)
    draw the line at the same place, whatever the heartbeat interval."""
    from workers.tasks.reports import stale_after as report_stale_after

    settings = parley.settings(heartbeat_s=heartbeat_s)
    sweep_rule = Timing(heartbeat_s=settings.heartbeat_s, idle_timeout_s=settings.idle_timeout_s).stale_after
    report_rule = report_stale_after(settings)
    assert parley.cli("programme", "load", str(ROOT / "config/programmes/idm-2022-1.yaml")).returncode == 0
    now = datetime(2022, 2, 28, 15, 30, tzinfo=UTC)  # 10:30 in New York, the first morning
    edge = now - sweep_rule
    sync_engine = make_sync_engine(settings)
    engine = make_async_engine(settings)
    sessions = make_sessionmaker(engine)
    try:
        with Session(sync_engine) as session, session.begin():
            event_id = session.execute(select(Event.id)).scalar_one()
            people = {
                name: Registration(
                    event_id=event_id, name=name, email=f"{name}@example.org", category="academia", join_nonce="n"
                )
                for name in ("alive", "dead")
            }
            session.add_all(people.values())
            session.flush()
            for name, last_seen in (("alive", edge + timedelta(seconds=1)), ("dead", edge - timedelta(seconds=1))):
                session.add(
                    Presence(
                        event_id=event_id,
                        registration_id=people[name].id,
                        connection_id=f"conn-{name}",
                        server_id="crashed-or-not",
                        started_at=now - timedelta(minutes=20),
                        last_seen_at=last_seen,
                    )
                )
            ids = {people[name].id: name for name in people}
        with Session(sync_engine) as session:
            day = reports.read_day(session, event_id, date(2022, 2, 28), now, stale_after=report_rule)
        present_now = {ids[rid] for rid, spans in day.data.presences.items() if spans[-1].end == now}

        await AttendanceService(sessions, "this-server", stale_after=sweep_rule).sweep(now=now)
        async with sessions() as session:
            rows = await session.execute(select(Presence.registration_id).where(Presence.ended_at.is_(None)))
            left_open = {ids[rid] for rid in rows.scalars()}
        assert present_now == left_open == {"alive"}
    finally:
        await engine.dispose()
        sync_engine.dispose()
