"""The live service keeps the last state it decoded per event and reuses it while the stored
position is unchanged (votes and refusals emit nothing: no state to decode again). Two services on
one database stand for two replicas: what one commits, the other's next command and read start
from, never from its own older copy."""

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
from server.adapters.db.models import Segment
from server.protocol import parse_command
from server.services.live import LiveService
from tests.golden_session import _prepare, ny

pytestmark = pytest.mark.anyio
CIDS = itertools.count(1)


async def run(live: LiveService, event_id: int, actor: Any, key: str, **command: Any) -> Any:
    parsed = parse_command(json.dumps({"cid": f"d{next(CIDS)}", **command}))
    return await live.execute(event_id, parsed, actor=actor, actor_key=key)  # type: ignore[arg-type]


async def test_a_replica_never_acts_on_its_own_older_copy_of_the_state(tmp_path: Path) -> None:
    database = tmp_path / "decoded.db"
    sync = create_engine(f"sqlite:///{database}")
    migrate.upgrade(sync)
    sync.dispose()
    engine = create_async_engine(f"sqlite+aiosqlite:///{database}")
    sessions = make_sessionmaker(engine)
    clock = ManualClock(ny("09:00"))
    bus = MemoryBus()
    await bus.start()
    try:
        cast = await _prepare(sessions)
        async with sessions() as session:
            event_id = (await session.execute(select(Segment.event_id))).scalars().first()
        one, two = LiveService(sessions, bus, clock=clock), LiveService(sessions, bus, clock=clock)
        mod, mod_key = cast.moderator, cast.moderator_key
        ana = cast.attendees["Ana Silva"]
        panel = cast.segments["d1-opening"]
        await run(one, event_id, mod, mod_key, type="qa.set_moderation", enabled=False)
        assert (await run(one, event_id, mod, mod_key, type="segment.open", segment_id=panel)).type == "result"
        asked = await run(one, event_id, *ana, type="question.ask", text="Who counts the missing?")
        question = asked.data["question_id"]
        state_one, _ = await one.state(event_id)
        again, _ = await one.state(event_id)
        assert again is state_one, "nothing happened in between: the decoded state is reused"

        # the other replica takes the question down; the first one must see it gone
        assert (await run(two, event_id, mod, mod_key, type="question.dismiss", question_id=question)).type == "result"
        vote = await run(one, event_id, *ana, type="question.vote", question_id=question, up=True)
        assert (vote.type, vote.code) == ("error", "not_found"), "decided on the state the other replica stored"
        state_after, position = await one.state(event_id)
        assert state_after is not state_one
        assert all(q.id != question for q in state_after.public.questions)
        assert (await two.state(event_id))[1] == position
    finally:
        await bus.close()
        await engine.dispose()
