"""A socket's writer runs only while frames wait, and what bypasses it keeps the order."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from starlette.websockets import WebSocket

from server.core.state import Actor
from server.entrypoints.ws.connection import Connection, ConnectionState
from server.entrypoints.ws.wire import text_frame
from server.services.auth import Principal

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Wire:
    """Both ways a frame reaches the client, recorded in the order they happen."""

    def __init__(self) -> None:
        self.frames: list[str] = []
        self.open = True
        self.gate = asyncio.Event()
        self.gate.set()

    # the direct writer (wire.DirectWriter)
    def writable(self) -> bool:
        return self.open

    def write(self, frame: bytes) -> None:
        self.frames.append(f"direct:{frame!r}")

    # the ASGI side the writer task uses
    async def send_text(self, text: str) -> None:
        await self.gate.wait()
        self.frames.append(f"asgi:{text}")


def connection(wire: Wire) -> Connection:
    async def writer(conn: Connection) -> None:  # LiveRuntime.writer's draining, without a runtime
        try:
            while conn.state is not ConnectionState.CLOSED and conn.outbox:
                conn.writing = True
                try:
                    while conn.outbox:
                        await conn.ws.send_text(conn.outbox.pop(0))
                finally:
                    conn.writing = False
        finally:
            conn.writer_task = None

    principal = Principal(session_id=1, kind="attendee", id=7, name="Ana", email="ana@example.org", event_id=1)
    return Connection(
        ws=cast(WebSocket, wire),
        principal=principal,
        actor=Actor(user_id=7, role="attendee", display_name="Ana", organisation=None, kind="attendee"),
        event_id=1,
        channels=("public",),
        last_seen=T0,
        direct=wire,
        writer=writer,
    )


def direct(text: str) -> str:
    return f"direct:{text_frame(text)!r}"


async def test_an_answer_is_written_directly_and_no_writer_task_exists_while_nothing_waits() -> None:
    wire = Wire()
    conn = connection(wire)
    conn.reply("snapshot")
    assert wire.frames == [direct("snapshot")]
    assert conn.writer_task is None, "nothing waited: no task was started"


async def test_frames_queued_before_an_answer_are_written_first_then_the_writer_ends() -> None:
    wire = Wire()
    conn = connection(wire)
    wire.gate.clear()  # the ASGI side is slow: the writer is stuck on its first frame
    conn.go_live({"public": 0})
    conn.send("e1")
    conn.send("e2")
    assert conn.writer_task is not None
    await asyncio.sleep(0)
    conn.reply("answer")  # must not overtake e1 and e2
    assert not wire.frames
    wire.gate.set()
    task = conn.writer_task
    assert task is not None
    await task
    assert wire.frames == ["asgi:e1", "asgi:e2", "asgi:answer"]
    assert conn.writer_task is None and not conn.outbox
    conn.reply("next")  # nothing waits any more: straight to the transport again
    assert wire.frames[-1] == direct("next")


async def test_a_transport_that_does_not_take_data_now_queues_the_answer() -> None:
    wire = Wire()
    wire.open = False
    conn = connection(wire)
    conn.reply("answer")
    assert conn.outbox == ["answer"] and not wire.frames
    task = conn.writer_task
    assert task is not None
    await task
    assert wire.frames == ["asgi:answer"]


async def test_a_direct_writer_that_raises_is_dropped_and_the_frame_is_not_lost() -> None:
    wire = Wire()
    conn = connection(wire)

    def broken(frame: bytes) -> None:
        raise RuntimeError("not the server wire.py expects")

    cast(Any, wire).write = broken
    conn.reply("answer")
    assert conn.direct is None
    task = conn.writer_task
    assert task is not None
    await task
    assert wire.frames == ["asgi:answer"]


async def test_a_closed_connection_starts_no_writer() -> None:
    wire = Wire()
    conn = connection(wire)
    conn.state = ConnectionState.CLOSED
    conn.send("late")
    assert conn.writer_task is None


def test_a_beat_stamped_before_the_clients_last_frame_counts_silence_from_that_frame() -> None:
    wire = Wire()
    conn = connection(wire)
    spoke = T0 + timedelta(seconds=10)
    conn.heard(spoke)
    conn.beat_written(T0 + timedelta(seconds=9))  # built before the client spoke, written after
    assert not conn.idle(spoke + timedelta(seconds=3), 3.5)
    assert conn.idle(spoke + timedelta(seconds=4), 3.5)
