"""Everything the live websockets need in one process, with its periodic jobs.

Jobs (each a small loop, cancelled at shutdown): heartbeats and the idle timeout, batched
``last_seen`` writes, re-checking every open socket's session and role, coalesced vote totals and
presence counts, and the sweep that closes intervals a crashed process left open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.adapters.bus.base import Bus
from server.adapters.clock import Clock
from server.entrypoints.ws.connection import Connection, ConnectionState
from server.entrypoints.ws.hub import RESYNC_SLOW, Hub
from server.protocol import ChannelPositions, encode_frame
from server.protocol.frames import ResyncFrame
from server.services import auth
from server.services.attendance import AttendanceService, presence_stale_after
from server.services.live import LiveService

log = logging.getLogger("parley.live")

CLOSE_SIGNED_OUT = 4401
CLOSE_IDLE = 4408


@dataclass(frozen=True)
class Timing:
    heartbeat_s: float = 15.0
    idle_timeout_s: float = 45.0
    revalidate_s: float = 3.0
    votes_s: float = 0.2
    counts_s: float = 2.0
    # virtual seconds per real second (a rehearsal's clock): the intervals above are real seconds,
    # the instants the clock gives are virtual, so a span compared with the clock is scaled by it
    speed: float = 1.0

    @property
    def stale_after(self) -> timedelta:
        """No live connection goes this long (on the clock) without its last heartbeat being written."""
        real = presence_stale_after(heartbeat_s=self.heartbeat_s, idle_timeout_s=self.idle_timeout_s)
        return real * self.speed

    @property
    def idle_after_s(self) -> float:
        """The idle timeout on the clock: a socket silent this long by the clock is closed."""
        return self.idle_timeout_s * self.speed

    @property
    def sweep_s(self) -> float:
        real = presence_stale_after(heartbeat_s=self.heartbeat_s, idle_timeout_s=self.idle_timeout_s)
        return max(1.0, min(60.0, real.total_seconds() / 2))


class LiveRuntime:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: Bus,
        *,
        clock: Clock,
        timing: Timing = Timing(),
    ) -> None:
        self.sessions = sessions
        self.bus = bus
        self.clock = clock
        self.timing = timing
        self.server_id = f"srv-{uuid.uuid4().hex[:12]}"
        self.live = LiveService(sessions, bus, clock=clock)
        self.attendance = AttendanceService(sessions, self.server_id, stale_after=timing.stale_after)
        self.hub = Hub(bus, self.live)
        self.timed_out: set[str] = set()
        self.counted_events: set[int] = set()
        self._last_counts: dict[int, tuple[int, int, dict[str, int]]] = {}
        self._tasks: list[asyncio.Task[None]] = []

    # --- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        closed = await self.attendance.sweep(now=self.clock.now())
        if closed:
            log.info("closed %d presence intervals left open by a stopped server", closed)
        recounted = await self.live.reconcile_votes()  # totals a killed process had not flushed yet
        if recounted:
            log.info("vote totals rebuilt from the recorded votes for events %s", recounted)
        for every, job in (
            (self.timing.heartbeat_s, self._heartbeat),
            (self.timing.revalidate_s, self._revalidate),
            (self.timing.votes_s, self.live.flush_votes),
            (self.timing.counts_s, self._counts),
            (self.timing.sweep_s, self._sweep),
        ):
            self._tasks.append(asyncio.create_task(self._every(every, job), name=job.__name__))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for conn in list(self.hub.connections):
            with contextlib.suppress(Exception):
                await conn.ws.close(1001, "server shutting down")
        await self.hub.close()

    async def _every(self, seconds: float, job: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception:  # a failing job (database briefly down) must not stop the others
                log.exception("periodic job %s failed", job.__name__)

    # --- jobs --------------------------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        now = self.clock.now()
        await self.hub.beat(now)
        stale = [
            c
            for c in self.hub.connections
            if c.last_seen is not None and (now - c.last_seen).total_seconds() > self.timing.idle_after_s
        ]
        for conn in stale:
            self.timed_out.add(conn.id)
            with contextlib.suppress(Exception):
                await conn.ws.close(CLOSE_IDLE, "no heartbeat answer")
        await self.attendance.seen(
            (c.id, c.last_seen)
            for c in self.hub.connections
            if c.principal.kind == "attendee" and c.last_seen is not None and c.id not in self.timed_out
        )

    async def _revalidate(self) -> None:
        by_event: defaultdict[int, list[Connection]] = defaultdict(list)
        for conn in self.hub.connections:
            by_event[conn.event_id].append(conn)
        for event_id, conns in by_event.items():
            async with self.sessions() as session:
                valid = await auth.still_valid(session, [c.principal for c in conns], event_id, now=self.clock.now())
            for conn in conns:
                if conn.principal.session_id not in valid:
                    with contextlib.suppress(Exception):
                        await conn.ws.close(CLOSE_SIGNED_OUT, "signed out, link revoked or role removed")

    async def _counts(self) -> None:
        for conn in self.hub.connections:
            self.counted_events.add(conn.event_id)
        for event_id in list(self.counted_events):
            counts = await self.attendance.counts(event_id, now=self.clock.now())
            if self._last_counts.get(event_id) == counts:
                continue  # unchanged since this process last recorded them: no lock, no write
            online, peak, by_category = counts
            await self.live.record_presence(event_id, online=online, peak_today=peak, by_category=by_category)
            self._last_counts[event_id] = counts

    async def _sweep(self) -> None:
        await self.attendance.sweep(now=self.clock.now())

    # --- joining and catching up -------------------------------------------------------------------

    async def send_snapshot(self, conn: Connection) -> None:
        conn.hold()
        snapshot = await self.live.snapshot(conn.event_id, actor=conn.actor, actor_key=conn.actor_key)
        conn.send(encode_frame(snapshot))
        positions = {"public": snapshot.channels.public.seq}
        if snapshot.channels.staff is not None:
            positions["staff"] = snapshot.channels.staff.seq
        conn.go_live(positions)

    async def catch_up(self, conn: Connection, positions: ChannelPositions | None) -> None:
        """Replay exactly what ``conn`` missed since ``positions``, or resync it with a snapshot."""
        conn.hold()
        if positions is not None:
            wanted = {"public": positions.public, "staff": positions.staff}
            frames: list[str] = []
            cursor: dict[str, int] = {}
            for channel in conn.channels:
                position = wanted.get(channel)
                replay = (
                    await self.live.replay(conn.event_id, channel, position.epoch, position.seq)
                    if position is not None
                    else None
                )
                if replay is None:
                    break
                frames.extend(replay)
                cursor[channel] = position.seq + len(replay)  # type: ignore[union-attr]
            else:
                for text in frames:
                    conn.send(text)
                conn.go_live(cursor)
                return
            reason = "epoch_changed"
            current = await self.live.position(conn.event_id)
            if current is not None and current.epoch == positions.public.epoch:
                reason = "history_exhausted"
            conn.send(encode_frame(ResyncFrame(reason=reason)))
        await self.send_snapshot(conn)

    async def writer(self, conn: Connection) -> None:
        """The only task that writes to ``conn``'s socket: drains its outbox in order."""
        try:
            while conn.state is not ConnectionState.CLOSED:
                await conn.wake.wait()
                conn.wake.clear()
                if conn.needs_snapshot:
                    conn.needs_snapshot = False
                    conn.outbox.clear()
                    await conn.ws.send_text(RESYNC_SLOW)
                    await self.send_snapshot(conn)
                conn.writing = True
                try:
                    while conn.outbox:
                        await conn.ws.send_text(conn.outbox.popleft())
                finally:
                    conn.writing = False
        except Exception:  # the peer went away: the reader sees the disconnect and cleans up
            log.debug("writer of %s stopped", conn.id, exc_info=True)
