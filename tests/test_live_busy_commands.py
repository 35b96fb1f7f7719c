"""A client whose command takes long to apply (thousands of votes queued behind one event's lock,
a database that does not answer) is not closed as idle: the server reads none of its frames until
the command is answered, so its heartbeat answers wait unread in the socket. Silence counts again
from the answer."""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from starlette.websockets import WebSocket

from server.core.state import Actor
from server.entrypoints.ws.connection import Connection
from server.services.auth import Principal
from tests.fixtures.live import LiveClient, register, staff_token
from tests.fixtures.parley import LIVE_ENV, Parley, ServerProcess
from tests.fixtures.services import PostgresDatabases, pg_url
from tests.test_live_idle import hold_lock

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_client_waiting_for_its_answer_is_not_idle_and_silence_counts_from_the_answer() -> None:
    principal = Principal(session_id=1, kind="attendee", id=7, name="Ana", email="ana@example.org", event_id=1)
    conn = Connection(
        ws=cast(WebSocket, None),
        principal=principal,
        actor=Actor(user_id=7, role="attendee", display_name="Ana", organisation=None, kind="attendee"),
        event_id=1,
        channels=("public",),
        last_seen=T0,
    )
    conn.heard(T0)
    conn.answering = True
    conn.beat_written(T0 + timedelta(seconds=5))
    assert not conn.idle(T0 + timedelta(seconds=120), 45), "its answers are in the socket, unread"
    conn.answered(T0 + timedelta(seconds=120))
    assert not conn.idle(T0 + timedelta(seconds=160), 45)
    assert conn.idle(T0 + timedelta(seconds=166), 45), "silent for the timeout after the answer: idle"


@pytest.mark.anyio
async def test_a_command_held_longer_than_the_idle_timeout_keeps_its_client(
    postgres_databases: PostgresDatabases, tmp_path: Any
) -> None:
    """The live state is locked for twice the idle timeout (3 s) while an attendee's command and a
    moderator's wait for it: both stay connected and get their answers after the lock."""
    database = postgres_databases.new()
    parley = Parley("postgres", tmp_path / "data", pg_url(database, "postgresql+asyncpg"), extra_env={**LIVE_ENV})
    server = ServerProcess(parley)
    attendee = LiveClient(server, register(server, "Patient Attendee"))
    moderator = LiveClient(server, staff_token(server, "moderator"))
    try:
        for client in (attendee, moderator):
            await client.connect()
        await attendee.expect("heartbeat", timeout=5)
        locked = threading.Event()
        holder = threading.Thread(target=hold_lock, args=(pg_url(database), "live_states", 7.0, locked))
        holder.start()
        await asyncio.to_thread(locked.wait, 10)
        marker = f"held {uuid.uuid4().hex[:6]}"
        cid = await moderator.send("notice.set", text=marker)
        refused = await attendee.send("floor.request", topic="held")  # no live segment: refused, after the lock
        await asyncio.to_thread(holder.join, 30)
        result = await moderator.expect("result", timeout=15, cid=cid)
        assert result["cid"] == cid
        assert (await attendee.expect("error", timeout=15, cid=refused))["code"] == "no_live_segment"
        await attendee.expect("event", event="notice.posted", timeout=10)
        for client in (attendee, moderator):
            assert client.close_code is None and not client.ws.protocol.close_rcvd, "closed while waiting"
    finally:
        for client in (attendee, moderator):
            await client.close()
        server.stop()
    assert "Traceback" not in server.log.read_text()
