"""One websocket connection: who it is, what it has been sent, and its bounded outbox."""

from __future__ import annotations

import asyncio
import enum
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from starlette.websockets import WebSocket

from server.core.state import Actor
from server.entrypoints.ws.wire import DirectWriter
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


@dataclass(eq=False)
class Connection:
    ws: WebSocket
    principal: Principal
    actor: Actor
    event_id: int
    channels: tuple[Channel, ...]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    state: ConnectionState = ConnectionState.JOINING
    cursor: dict[str, int] = field(default_factory=dict)
    held: list[tuple[Channel, int, str]] = field(default_factory=list)
    outbox: deque[str] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    needs_snapshot: bool = False
    last_seen: datetime | None = None  # the last frame received from the client
    unanswered_since: datetime | None = None
    """When the oldest heartbeat written to this socket since the client's last frame was written;
    None while the client has answered everything written to it. Idle detection counts from here,
    never from the last frame alone: a heartbeat the server failed to send on time (a join storm,
    a database that does not answer) cannot make a healthy client look silent."""
    limiter: TokenBucket = field(default_factory=lambda: TokenBucket(rate=10, burst=40))
    direct: DirectWriter | None = None  # None: the server is not one wire.py knows, all goes via ASGI

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
            self.unanswered_since = now

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
                self.wake.set()
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

    def send(self, text: str) -> None:
        if len(self.outbox) >= OUTBOX_LIMIT:
            self.outbox.clear()
            self.needs_snapshot = True  # told to resync and sent a fresh snapshot by its writer
        else:
            self.outbox.append(text)
        self.wake.set()
