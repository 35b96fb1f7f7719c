"""Vote totals survive a crash: a real `parley serve` (embedded: SQLite, in-process bus) is SIGKILLed
right after acknowledged votes, restarted, and the board must show what ``question_votes`` recorded."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest
from sqlalchemy import create_engine, text

from tests.fixtures.live import LiveClient, register, staff_token
from tests.fixtures.parley import ServerProcess

pytestmark = pytest.mark.anyio


def recorded(server: ServerProcess) -> dict[int, int]:
    engine = create_engine(server.parley.settings().sync_database_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT question_id, count(*) FROM question_votes GROUP BY question_id")).all()
    engine.dispose()
    return {int(qid): int(n) for qid, n in rows}


def kill(server: ServerProcess) -> None:
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait()
    server.stop()


async def board(server: ServerProcess, token: str) -> tuple[dict[int, int], list[int]]:
    """The totals a fresh client's snapshot shows, and that client's own votes."""
    client = LiveClient(server, token)
    snapshot = await client.connect()
    await client.close()
    return {q["id"]: q["votes"] for q in snapshot["public"]["questions"]}, snapshot["me"]["voted"]


@pytest.mark.parametrize("live_servers", ["embedded"], indirect=True)
async def test_votes_acknowledged_just_before_a_kill_are_on_the_board_after_restart(
    live_servers: list[ServerProcess],
) -> None:
    server = live_servers[0]
    moderator = LiveClient(server, staff_token(server, "moderator"))
    snapshot = await moderator.connect()
    await moderator.ok("segment.open", segment_id=snapshot["public"]["segments"][0]["id"])
    await moderator.ok("qa.set_moderation", enabled=False)
    voters = [LiveClient(server, register(server, f"Voter {n}")) for n in range(6)]
    for voter in voters:
        await voter.connect()
    first = (await voters[0].ok("question.ask", text="Who counts the votes?"))["data"]["question_id"]
    second = (await voters[1].ok("question.ask", text="And after a crash?"))["data"]["question_id"]
    await asyncio.gather(*(v.ok("question.vote", question_id=first, up=True) for v in voters))
    kill(server)  # a few milliseconds after the acknowledgements, before the 0.2 s flush

    server = ServerProcess(server.parley)
    try:
        assert recorded(server) == {first: 6}, "every acknowledged vote is recorded"
        shown, voted = await board(server, voters[0].token)
        assert shown == {first: 6, second: 0}, "the board shows the recorded votes"
        assert voted == [first]

        # again after a restart: votes withdrawn and new votes, then a kill
        again = [LiveClient(server, v.token) for v in voters]
        for voter in again:
            await voter.connect()
        await asyncio.gather(
            *(v.ok("question.vote", question_id=first, up=False) for v in again[:4]),
            *(v.ok("question.vote", question_id=second, up=True) for v in again[3:]),
        )
        kill(server)
        server = ServerProcess(server.parley)
        assert recorded(server) == {first: 2, second: 3}
        shown, voted = await board(server, voters[5].token)
        assert shown == {first: 2, second: 3}, "withdrawn votes are off the board, new ones on it"
        assert sorted(voted) == sorted([first, second])
    finally:
        server.stop()
