"""A segment opens on its own day: the live service refuses another day with ``outside_day``, except
in a rehearsal copy (``parley event copy --rehearsal``). Real CLI, real database, the service in-process."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import select

from server.adapters.bus import make_bus
from server.adapters.clock import ManualClock
from server.adapters.db.engine import make_async_engine, make_sessionmaker
from server.adapters.db.models import Event, Segment
from server.core.state import Actor
from server.protocol import SegmentOpen
from server.protocol.frames import ErrorFrame, ResultFrame
from server.services.live import LiveService
from tests.fixtures.parley import ROOT, Parley

SHIPPED = ROOT / "config" / "programmes" / "idm-2022-1.yaml"
MODERATOR = Actor(user_id=1, role="moderator", display_name="Mo", kind="staff")


def open_first_segment(parley: Parley, slug: str, now: datetime) -> ResultFrame | ErrorFrame:
    async def run() -> ResultFrame | ErrorFrame:
        engine = make_async_engine(parley.settings())
        bus = make_bus("")
        await bus.start()
        try:
            sessions = make_sessionmaker(engine)
            async with sessions() as session:
                event_id = await session.scalar(select(Event.id).where(Event.slug == slug))
                segment_id = await session.scalar(
                    select(Segment.id).where(Segment.event_id == event_id).order_by(Segment.starts_at).limit(1)
                )
            live = LiveService(sessions, bus, clock=ManualClock(now))
            assert segment_id is not None
            return await live.execute(
                event_id, SegmentOpen(cid="c1", segment_id=segment_id), actor=MODERATOR, actor_key="u:1"
            )
        finally:
            await bus.close()
            await engine.dispose()

    return asyncio.run(run())


def test_a_past_morning_cannot_be_opened_years_later_but_a_rehearsal_copy_can(sqlite_parley: Parley) -> None:
    assert sqlite_parley.cli("programme", "load", str(SHIPPED)).returncode == 0
    copied = sqlite_parley.cli(
        "event", "copy", "idm-2022-1", "--new-slug", "idm-rehearsal", "--first-day", "2026-03-07", "--rehearsal"
    )
    assert copied.returncode == 0, copied.stderr
    assert copied.stdout.strip() == "idm-rehearsal: rehearsal copy of idm-2022-1, 3 days from 2026-03-07"
    normal = sqlite_parley.cli("event", "copy", "idm-2022-1", "--new-slug", "idm-2027", "--first-day", "2027-02-28")
    assert normal.returncode == 0, normal.stderr

    years_later = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    refused = open_first_segment(sqlite_parley, "idm-2022-1", years_later)
    assert isinstance(refused, ErrorFrame) and refused.code == "outside_day", refused
    assert "2022-02-28" in refused.message
    assert isinstance(open_first_segment(sqlite_parley, "idm-2027", years_later), ErrorFrame), (
        "a copy is a normal event"
    )
    assert isinstance(open_first_segment(sqlite_parley, "idm-rehearsal", years_later), ResultFrame)
    on_its_day = datetime(2027, 2, 28, 13, 30, tzinfo=UTC)  # 8:30 in New York, half an hour early
    assert isinstance(open_first_segment(sqlite_parley, "idm-2027", on_its_day), ResultFrame)
