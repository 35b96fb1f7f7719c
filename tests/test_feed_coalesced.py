"""Frames that reach a feed together go to each socket in one write, in ``seq`` order: during a
burst (50 approvals in a second at 10,000 sockets) one write of several frames per socket instead
of one write per frame. A socket that cannot take them now gets them queued, in the same order."""

from __future__ import annotations

import json
from typing import Any

import pytest

from server.core.state import Actor
from server.entrypoints.ws.connection import Connection
from server.entrypoints.ws.hub import Feed, Hub
from server.entrypoints.ws.wire import text_frame
from server.services.auth import Principal

pytestmark = pytest.mark.anyio


class Transport:
    def __init__(self, writable: bool) -> None:
        self.can_write = writable
        self.writes: list[bytes] = []

    def writable(self) -> bool:
        return self.can_write

    def write(self, frame: bytes) -> None:
        self.writes.append(frame)


def socket(transport: Transport) -> Connection:
    principal = Principal(session_id=1, kind="attendee", id=7, name="A", email="a@example.org", event_id=1)
    ws: Any = object()
    conn = Connection(
        ws=ws,
        principal=principal,
        actor=Actor(7, "attendee", "A", kind="attendee"),
        event_id=1,
        channels=("public",),
        direct=transport,
    )
    conn.go_live({"public": 0})
    return conn


def event(seq: int) -> str:
    return json.dumps({"type": "event", "channel": "public", "epoch": "e1", "seq": seq, "event": {"n": seq}})


async def test_frames_that_arrive_together_are_one_write_in_seq_order() -> None:
    bus: Any = None
    live: Any = None
    feed = Feed(Hub(bus, live), 1, "public")
    feed.epoch = "e1"
    fast, slow = Transport(writable=True), Transport(writable=False)
    reader, behind = socket(fast), socket(slow)
    feed.connections |= {reader, behind}

    await feed.receive_many([event(1), event(3), event(2)])  # 3 arrived before 2: it waits for it

    assert fast.writes == [text_frame(event(1)) + text_frame(event(2)) + text_frame(event(3))]
    assert reader.cursor == {"public": 3} and feed.last_seq == 3 and not feed.early
    assert slow.writes == [] and list(behind.outbox) == [event(1), event(2), event(3)]

    await feed.receive_many([event(5)])  # a gap: held, not written
    assert len(fast.writes) == 1 and feed.early == {5: event(5)}
    await feed.receive_many([event(4)])
    assert fast.writes[1] == text_frame(event(4)) + text_frame(event(5))
    await feed.stop()
