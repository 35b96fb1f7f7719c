"""Nobody healthy is dropped: idle detection counts from heartbeats actually written, heartbeats and
periodic jobs keep their rhythm while the database does not answer, and a job in trouble says so once."""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from starlette.websockets import WebSocket

from server.core.state import Actor
from server.entrypoints.ws.connection import Connection
from server.entrypoints.ws.hub import HEARTBEAT_PREFIX
from server.entrypoints.ws.periodic import PeriodicJob
from server.protocol import encode_frame
from server.protocol.frames import ChannelSeqs, HeartbeatFrame
from server.services.auth import Principal
from tests.fixtures.live import LiveClient, register, staff_token
from tests.fixtures.parley import LIVE_ENV, Parley, ServerProcess
from tests.fixtures.services import PostgresDatabases, pg_url

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def connection() -> Connection:
    principal = Principal(session_id=1, kind="attendee", id=7, name="Ana", email="ana@example.org", event_id=1)
    return Connection(
        ws=cast(WebSocket, None),  # the idle rule reads no socket
        principal=principal,
        actor=Actor(user_id=7, role="attendee", display_name="Ana", organisation=None, kind="attendee"),
        event_id=1,
        channels=("public",),
        last_seen=T0,
    )


def test_every_heartbeat_starts_with_the_prefix_writers_look_for() -> None:
    text = encode_frame(HeartbeatFrame(server_time=T0, seqs=ChannelSeqs(public=3), forecast=None))
    assert text.startswith(HEARTBEAT_PREFIX)


def test_silence_counts_from_the_first_heartbeat_written_not_from_the_last_frame() -> None:
    conn = connection()
    # no heartbeat reached it for ten minutes (a join storm): it is not idle, and present until now
    later = T0 + timedelta(minutes=10)
    assert not conn.idle(later, 45)
    assert conn.alive_at(later) == later
    conn.beat_written(later)
    conn.beat_written(later + timedelta(seconds=15))  # the first unanswered one counts
    assert not conn.idle(later + timedelta(seconds=45), 45)
    assert conn.idle(later + timedelta(seconds=46), 45)
    assert conn.alive_at(later + timedelta(seconds=46)) == T0, "a silent one was last present at its last frame"
    conn.heard(later + timedelta(seconds=20))
    assert not conn.idle(later + timedelta(seconds=100), 45)


async def test_a_job_slower_than_its_period_skips_beats_and_says_so_once(caplog: pytest.LogCaptureFixture) -> None:
    release = asyncio.Event()
    started = 0

    async def stuck() -> None:
        nonlocal started
        started += 1
        if started == 1:
            await release.wait()

    job = PeriodicJob("stuck", 0.02, stuck)
    with caplog.at_level(logging.WARNING, logger="parley.live"):
        job.start()
        try:
            while job.skipped < 5:  # noqa: ASYNC110 - the job's counters are polled
                await asyncio.sleep(0.02)
            assert started == 1, "no run piles up on one still going"
            release.set()
            while job.runs < 3:  # noqa: ASYNC110 - the job's counters are polled
                await asyncio.sleep(0.02)
        finally:
            await job.stop()
    said = [r.getMessage() for r in caplog.records if "periodic job stuck" in r.getMessage()]
    assert len([m for m in said if "skips a beat" in m]) == 1, said
    assert len([m for m in said if "back on time" in m]) == 1, said


async def test_a_failing_job_says_so_once_per_spell_and_keeps_its_rhythm(caplog: pytest.LogCaptureFixture) -> None:
    calls = 0

    async def flaky() -> None:
        nonlocal calls
        calls += 1
        if calls <= 4:
            raise TimeoutError("QueuePool limit reached")

    job = PeriodicJob("flaky", 0.02, flaky)
    with caplog.at_level(logging.WARNING, logger="parley.live"):
        job.start()
        try:
            while job.runs < 2:  # noqa: ASYNC110 - the job's counters are polled
                await asyncio.sleep(0.02)
        finally:
            await job.stop()
    said = [r.getMessage() for r in caplog.records if "periodic job flaky" in r.getMessage()]
    assert job.failures == 4
    assert len([m for m in said if "failed" in m]) == 1, said
    assert "TimeoutError" in said[0]
    assert len([m for m in said if "back on time" in m]) == 1, said


def hold_lock(url: str, table: str, seconds: float, locked: threading.Event) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as db:
            db.execute(text(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
            locked.set()
            threading.Event().wait(seconds)
            db.rollback()
    finally:
        engine.dispose()


async def test_nobody_healthy_is_dropped_while_the_database_does_not_answer(
    postgres_databases: PostgresDatabases, tmp_path: Any
) -> None:
    """The live state is locked for twice the idle timeout (3 s here): heartbeats keep coming from the
    last state read, every client answers them and stays; afterwards events reach everyone."""
    database = postgres_databases.new()
    parley = Parley("postgres", tmp_path / "data", pg_url(database, "postgresql+asyncpg"), extra_env={**LIVE_ENV})
    server = ServerProcess(parley)
    clients = [LiveClient(server, register(server, f"Calm Attendee {i}")) for i in range(5)]
    moderator = LiveClient(server, staff_token(server, "moderator"))
    try:
        for client in [*clients, moderator]:
            await client.connect()
        await clients[0].expect("heartbeat", timeout=5)  # at least one committed position read
        locked = threading.Event()
        holder = threading.Thread(target=hold_lock, args=(pg_url(database), "live_states", 6.5, locked))
        holder.start()
        await asyncio.to_thread(locked.wait, 10)
        began = datetime.now(UTC)
        await asyncio.to_thread(holder.join, 30)
        for client in clients:
            assert client.close_code is None and not client.ws.protocol.close_rcvd, "a healthy client was closed"
            beats = []
            while True:
                try:
                    frame = await client.expect("heartbeat", timeout=0.5)
                except (AssertionError, TimeoutError):  # none left
                    break
                beats.append(datetime.fromisoformat(frame["server_time"]))
            assert len([b for b in beats if began < b < began + timedelta(seconds=6)]) >= 4, beats
        marker = f"after the lock {uuid.uuid4().hex[:6]}"
        await moderator.ok("notice.set", text=marker)
        for client in clients:
            notice = await client.expect("event", event="notice.posted", timeout=10)
            assert marker in str(notice)
    finally:
        for client in [*clients, moderator]:
            await client.close()
        server.stop()
    log = server.log.read_text()
    assert log.count("were not read within") == 1, log
    assert "Traceback" not in log, log
