"""One websocket connection: who it is, what it has been sent, and its bounded outbox."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.websockets import WebSocket

from server.core.state import Actor
from server.entrypoints.ws.wire import DirectWriter, text_frame
from server.protocol import Channel
from server.services.auth import Principal

OUTBOX_LIMIT = 2000
"""Frames waiting for one slow client; past it the backlog is dropped and the client resyncs."""


class ConnectionState(enum.Enum):
    JOINING = "joining"  # events are held until the snapshot or replay has been sent
    LIVE = "live"
    CLOSED = "closed"


class IllegalTransition(RuntimeError):
    pass


class TokenBucket:
    """Per-connection flood guard: ``rate`` commands a second, bursts of ``burst``."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


Writer = Callable[["Connection"], Coroutine[Any, Any, None]]
"""What drains a connection's outbox (``LiveRuntime.writer``): run as a task only while there is
something to write."""


@dataclass(eq=False, slots=True)
class Connection:
    """One socket. Slotted, and its writer task exists only while frames wait in its outbox: most
    frames are written straight to the transport (:meth:`write_now`), so at 10,000 sockets an idle
    writer task, its event and their futures per socket were memory held for nothing."""

    ws: WebSocket
    principal: Principal
    actor: Actor
    event_id: int
    channels: tuple[Channel, ...]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    state: ConnectionState = ConnectionState.JOINING
    cursor: dict[str, int] = field(default_factory=dict)
    held: list[tuple[Channel, int, str]] = field(default_factory=list)
    outbox: list[str] = field(default_factory=list)
    """Frames waiting for the writer, oldest first. A list, not a deque: empty (nearly always) it
    holds no block, where every empty deque holds 0.5 KiB; popping the front of a backlog of at
    most OUTBOX_LIMIT frames costs microseconds."""
    needs_snapshot: bool = False
    last_seen: datetime | None = None  # the last frame received from the client
    unanswered_since: datetime | None = None
    """When the oldest heartbeat written to this socket since the client's last frame was written;
    None while the client has answered everything written to it. Idle detection counts from here,
    never from the last frame alone: a heartbeat the server failed to send on time (a join storm,
    a database that does not answer) cannot make a healthy client look silent."""
    limiter: TokenBucket = field(default_factory=lambda: TokenBucket(rate=10, burst=40))
    direct: DirectWriter | None = None  # None: the server is not one wire.py knows, all goes via ASGI
    writer: Writer | None = None  # None: nothing drains the outbox (a connection in a unit test)
    writer_task: asyncio.Task[None] | None = None  # running while the outbox has frames to write
    writer_stopped: bool = False  # its writer failed (the peer went away): no other is started

    writing: bool = False
    answering: bool = False
    """A command of this client is being applied: the server is not reading its frames meanwhile,
    so its heartbeat answers wait unread in the socket and silence proves nothing."""

    @property
    def actor_key(self) -> str:
        return self.principal.actor_key

    def heard(self, now: datetime) -> None:
        """A frame came from the client: it has answered every heartbeat written before."""
        self.last_seen = now
        self.unanswered_since = None

    def beat_written(self, now: datetime) -> None:
        """A heartbeat reached this socket's transport (written directly, or by its writer)."""
        if self.unanswered_since is None:
            # never before the client's last frame: a beat stamped when it was built, then written
            # after the client spoke (its read of the database took a while), was written after that frame
            last = self.last_seen
            self.unanswered_since = now if last is None or now >= last else last

    def idle(self, now: datetime, timeout_s: float) -> bool:
        """Silent for ``timeout_s`` after a heartbeat was actually written to it (never while one of
        its commands is being applied)."""
        return (
            not self.answering
            and self.unanswered_since is not None
            and (now - self.unanswered_since).total_seconds() > timeout_s
        )

    def answered(self, now: datetime) -> None:
        """Its command is answered: the server reads its frames again, and silence counts from now."""
        self.answering = False
        if self.unanswered_since is not None:
            self.unanswered_since = now

    def alive_at(self, now: datetime) -> datetime | None:
        """Until when this connection is known to be present: ``now`` while it has answered every
        heartbeat written to it (none may have gone out for a while), else its last frame."""
        return now if self.unanswered_since is None else self.last_seen

    def go_live(self, positions: dict[str, int]) -> None:
        """The snapshot or replay reflects ``positions``: send what was held after them, in order."""
        if self.state is ConnectionState.CLOSED:
            return
        self.cursor = dict(positions)
        self.state = ConnectionState.LIVE
        held, self.held = self.held, []
        for channel, seq, text in held:
            self.offer(channel, seq, text)

    def hold(self) -> None:
        if self.state is ConnectionState.CLOSED:
            raise IllegalTransition("a closed connection cannot rejoin")
        self.state = ConnectionState.JOINING

    def offer(self, channel: Channel, seq: int, text: str) -> None:
        """An event of ``channel`` at ``seq`` (feeds deliver each channel in order, without gaps)."""
        if self.state is ConnectionState.JOINING:
            self.held.append((channel, seq, text))
            if len(self.held) > OUTBOX_LIMIT:
                self.held.clear()
                self.needs_snapshot = True
                self.wake()
            return
        if self.state is ConnectionState.CLOSED or seq <= self.cursor.get(channel, 0):
            return
        self.cursor[channel] = seq
        self.send(text)

    def write_now(self, frame: bytes) -> bool:
        """Write an encoded ``frame`` straight to the transport, if that keeps the order and does not
        pile up: the socket is live, nothing is queued before it, its writer is idle and its transport
        takes data now. False: nothing was written, the caller queues the text instead.

        The direct writer reads the server's internals: whatever it raises propagates, and the
        caller (``Hub.write_direct``) sends this socket's frames through ASGI from then on. A
        transport raises before it buffers anything, so the frame is queued, never lost or doubled."""
        direct = self.direct
        if (
            direct is None
            or self.state is not ConnectionState.LIVE
            or self.outbox
            or self.writing
            or self.needs_snapshot
            or not direct.writable()
        ):
            return False
        direct.write(frame)
        return True

    def reply(self, text: str) -> None:
        """``send``, written straight to the transport when that keeps the order: nothing queued or
        being written before it, no resync pending, and the transport takes data now. For what the
        server sends this socket alone (its snapshot, its answers), in any state but closed: while
        it joins, the feeds' events wait in ``held``, never before these frames. A direct writer
        that raises is dropped (the frame and every later one go through the outbox)."""
        direct = self.direct
        if (
            direct is not None
            and self.state is not ConnectionState.CLOSED
            and not self.outbox
            and not self.writing
            and not self.needs_snapshot
            and self.writer_task is None
        ):
            try:
                if direct.writable():
                    direct.write(text_frame(text))
                    return
            except Exception:  # the server's internals are not what wire.py expects: use ASGI
                self.direct = None
        self.send(text)

    def send(self, text: str) -> None:
        if len(self.outbox) >= OUTBOX_LIMIT:
            self.outbox.clear()
            self.needs_snapshot = True  # told to resync and sent a fresh snapshot by its writer
        else:
            self.outbox.append(text)
        self.wake()

    def wake(self) -> None:
        """Something waits to be written (or the connection closed): start its writer unless one
        runs. A running writer finds the new frame itself: it stops only once the outbox is empty,
        in the same step as it clears ``writer_task`` (no await between), so no frame is left behind."""
        if (
            self.writer_task is None
            and self.writer is not None
            and not self.writer_stopped
            and self.state is not ConnectionState.CLOSED
            and (self.outbox or self.needs_snapshot)
        ):
            self.writer_task = asyncio.get_running_loop().create_task(self.writer(self))

    async def stop_writer(self) -> None:
        """Cancel a running writer and wait for it (the socket is closing)."""
        task = self.writer_task
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
