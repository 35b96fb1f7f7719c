"""Votes are written in batches (``services/ballots.py``): the votes that arrive together are one
transaction, yet each is answered as if it had been applied alone, in the order it arrived: a
repeated command id gets the first answer, a vote the rules refuse gets its error and changes
nothing, a voter's later vote sees the earlier one, and the totals are those of the recorded votes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.ext.asyncio import create_async_engine

from server.adapters.bus.memory import MemoryBus
from server.adapters.clock import ManualClock
from server.adapters.db import migrate
from server.adapters.db.engine import make_sessionmaker
from server.adapters.db.models import CommandResult, QuestionVote, Segment
from server.protocol import parse_command
from server.services.live import LiveService
from tests.golden_session import _prepare, ny

pytestmark = pytest.mark.anyio


async def run(live: LiveService, event_id: int, who: tuple[Any, str], cid: str, **command: Any) -> Any:
    parsed = parse_command(json.dumps({"cid": cid, **command}))
    actor, key = who
    return await live.execute(event_id, parsed, actor=actor, actor_key=key)  # type: ignore[arg-type]


async def test_votes_that_arrive_together_are_one_transaction_each_answered_as_if_alone(tmp_path: Path) -> None:
    database = tmp_path / "votes.db"
    sync = create_engine(f"sqlite:///{database}")
    migrate.upgrade(sync)
    sync.dispose()
    engine = create_async_engine(f"sqlite+aiosqlite:///{database}")
    sessions = make_sessionmaker(engine)
    bus = MemoryBus()
    await bus.start()
    try:
        cast = await _prepare(sessions)
        async with sessions() as session:
            event_id = (await session.execute(select(Segment.event_id))).scalars().first()
        assert event_id is not None
        live = LiveService(sessions, bus, clock=ManualClock(ny("09:00")))
        mod = (cast.moderator, cast.moderator_key)
        ana, ben, carla, dan = (cast.attendees[name] for name in sorted(cast.attendees))
        await run(live, event_id, mod, "m1", type="qa.set_moderation", enabled=False)
        await run(live, event_id, mod, "m2", type="segment.open", segment_id=cast.segments["d1-opening"])
        first = (await run(live, event_id, ana, "a1", type="question.ask", text="Who counts?")).data["question_id"]
        second = (await run(live, event_id, ben, "a2", type="question.ask", text="Who pays?")).data["question_id"]
        before = live.vote_batches

        replies = await asyncio.gather(
            run(live, event_id, ana, "v1", type="question.vote", question_id=first, up=True),
            run(live, event_id, ana, "v1", type="question.vote", question_id=first, up=False),  # a repeated cid
            run(live, event_id, ben, "v2", type="question.vote", question_id=first, up=True),
            run(live, event_id, ben, "v3", type="question.vote", question_id=first, up=False),  # withdrawn
            run(live, event_id, carla, "v4", type="question.vote", question_id=first + second + 100, up=True),
            run(live, event_id, dan, "v5", type="question.vote", question_id=second, up=True),
        )

        assert live.vote_batches == before + 1, "one transaction for the six votes"
        assert [r.type for r in replies] == ["result", "result", "result", "result", "error", "result"]
        assert replies[1].data == replies[0].data == {"question_id": first, "up": True}, "the first answer"
        assert replies[4].code == "not_found"
        async with sessions() as session:
            votes = set((await session.execute(select(QuestionVote.question_id, QuestionVote.voter))).all())
            answers = await session.scalar(select(func.count()).select_from(CommandResult))
        assert votes == {(first, ana[1]), (second, dan[1])}
        assert answers == 4 + 4, "the commands before and the four votes applied; no answer kept for a refusal"

        again = await run(live, event_id, ana, "v1", type="question.vote", question_id=first, up=True)
        assert again.data == replies[0].data and live.vote_batches == before + 2
        await live.flush_votes()
        state, _ = await live.state(event_id)
        assert {q.id: q.votes for q in state.public.questions} == {first: 1, second: 1}
    finally:
        await bus.close()
        await engine.dispose()
