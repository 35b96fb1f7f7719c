"""The per-socket rules of the fan-out: ordering while joining, and the bound on a slow reader."""

from __future__ import annotations

from typing import Any

from server.core.state import Actor
from server.entrypoints.ws.connection import OUTBOX_LIMIT, Connection, ConnectionState
from server.services.auth import Principal


def connection() -> Connection:
    principal = Principal(session_id=1, kind="attendee", id=7, name="A", email="a@example.org", event_id=1)
    ws: Any = object()  # never written to here: these rules only fill the outbox
    return Connection(
        ws=ws, principal=principal, actor=Actor(7, "attendee", "A", kind="attendee"), event_id=1, channels=("public",)
    )


def test_events_that_arrive_while_joining_follow_the_snapshot_in_order() -> None:
    conn = connection()
    conn.hold()
    for seq in (4, 5, 6):
        conn.offer("public", seq, f"e{seq}")
    assert not conn.outbox
    conn.send("snapshot@5")
    conn.go_live({"public": 5})
    assert list(conn.outbox) == ["snapshot@5", "e6"], "events up to the snapshot's seq are dropped"
    conn.offer("public", 6, "e6 again")
    conn.offer("public", 7, "e7")
    assert list(conn.outbox) == ["snapshot@5", "e6", "e7"]


def test_a_reader_that_falls_behind_is_resynced_not_buffered_forever() -> None:
    conn = connection()
    conn.go_live({"public": 0})
    for seq in range(1, OUTBOX_LIMIT + 1):
        conn.offer("public", seq, f"e{seq}")
    assert len(conn.outbox) == OUTBOX_LIMIT and not conn.needs_snapshot
    conn.offer("public", OUTBOX_LIMIT + 1, "one too many")
    assert conn.needs_snapshot, "its writer sends resync and a fresh snapshot"
    assert not conn.outbox, "the stale backlog is dropped"


def test_a_closed_connection_takes_nothing() -> None:
    conn = connection()
    conn.go_live({"public": 0})
    conn.state = ConnectionState.CLOSED
    conn.offer("public", 1, "e1")
    assert not conn.outbox
