"""The poll ballots of the live service, in process (SQLite, memory bus): a ballot replaces the
voter's previous one, the coalesced tally follows, a restarted process brings tallies a killed one
had not flushed back to the ballots table, and the snapshot gives each attendee their own ballot."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.ext.asyncio import create_async_engine

from server.adapters.bus.memory import MemoryBus
from server.adapters.clock import ManualClock
from server.adapters.db import migrate
from server.adapters.db.engine import make_sessionmaker
from server.adapters.db.models import CommandResult, PollBallot, Segment
from server.core.state import Actor
from server.protocol import parse_command
from server.services.live import LiveService
from tests.golden_session import _prepare, ny

pytestmark = pytest.mark.anyio
CIDS = itertools.count(1)


@pytest.fixture()
async def world(tmp_path: Path) -> Any:
    database = tmp_path / "polls.db"
    sync = create_engine(f"sqlite:///{database}")
    migrate.upgrade(sync)
    sync.dispose()
    engine = create_async_engine(f"sqlite+aiosqlite:///{database}")
    sessions = make_sessionmaker(engine)
    clock = ManualClock(ny("09:00"))
    bus = MemoryBus()
    await bus.start()
    cast = await _prepare(sessions)
    async with sessions() as session:
        event_id = (await session.execute(select(Segment.event_id))).scalars().first()
    yield sessions, bus, clock, cast, event_id
    await bus.close()
    await engine.dispose()


async def run(live: LiveService, event_id: int, actor: Actor, key: str, **command: Any) -> Any:
    parsed = parse_command(json.dumps({"cid": f"c{next(CIDS)}", **command}))
    return await live.execute(event_id, parsed, actor=actor, actor_key=key)  # type: ignore[arg-type]


async def test_ballots_replace_tally_reconcile_and_come_back_in_the_snapshot(world: Any) -> None:
    sessions, bus, clock, cast, event_id = world
    live = LiveService(sessions, bus, clock=clock)
    mod, mod_key = cast.moderator, cast.moderator_key
    ana, ben = cast.attendees["Ana Silva"], cast.attendees["Ben Okafor"]
    panel = cast.segments["d1-opening"]
    assert (await run(live, event_id, mod, mod_key, type="segment.open", segment_id=panel)).type == "result"
    prepared = await run(live, event_id, mod, mod_key, type="poll.prepare", segment_id=panel, question="Q?",
                         options=["A", "B", "C"], choice="multiple")  # fmt: skip
    poll_id = prepared.data["poll_id"]
    await run(live, event_id, mod, mod_key, type="poll.open", poll_id=poll_id)

    assert (await run(live, event_id, *ana, type="poll.vote", poll_id=poll_id, option_ids=[1, 2])).data == {
        "poll_id": poll_id
    }
    await run(live, event_id, *ben, type="poll.vote", poll_id=poll_id, option_ids=[2])
    await live.flush_votes()
    state, _ = await live.state(event_id)
    tally = state.staff.poll_tallies[poll_id]
    assert (tally.ballots, tally.counts) == (2, {1: 1, 2: 2, 3: 0})

    # Ana changes her mind; the process dies before its flush; the next one reconciles at start
    await run(live, event_id, *ana, type="poll.vote", poll_id=poll_id, option_ids=[3])
    restarted = LiveService(sessions, bus, clock=clock)
    assert await restarted.reconcile_votes() == [event_id]
    state, _ = await restarted.state(event_id)
    assert state.staff.poll_tallies[poll_id].counts == {1: 0, 2: 1, 3: 1}
    assert await restarted.reconcile_votes() == [], "nothing to fix the second time"

    me = (await restarted.snapshot(event_id, actor=ana[0], actor_key=ana[1])).me
    assert me.ballots == {poll_id: (3,)}
    assert (await restarted.snapshot(event_id, actor=mod, actor_key=mod_key)).me.ballots == {}
    async with sessions() as session:
        rows = (await session.execute(select(PollBallot.voter, PollBallot.option_ids))).all()
        assert sorted(rows) == sorted([(ana[1], [3]), (ben[1], [2])]), "one row per voter"
        stored = (await session.execute(select(CommandResult.result))).scalars().all()
        assert not any("option_ids" in json.dumps(result) for result in stored), "no stored answer holds a choice"
