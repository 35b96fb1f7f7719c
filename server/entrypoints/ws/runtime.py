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
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.adapters import metrics
from server.adapters.bus.base import Bus
from server.adapters.clock import Clock
from server.core.model import DEFAULT_STATEMENT_MAX_CHARS
from server.entrypoints.ws.connection import Connection, ConnectionState
from server.entrypoints.ws.hub import HEARTBEAT_PREFIX, RESYNC_SLOW, Hub
from server.entrypoints.ws.periodic import PeriodicJob
from server.entrypoints.ws.snapshots import SharedSnapshots
from server.protocol import ChannelPositions, encode_frame
from server.protocol.frames import ResyncFrame
from server.services import auth
from server.services.attendance import AttendanceService, presence_stale_after
from server.services.joins import BatchedJoins
from server.services.live import LiveService

log = logging.getLogger("parley.live")

CLOSE_SIGNED_OUT = 4401
CLOSE_IDLE = 4408
JOB_SHARE = 0.1
"""The most of the process's time a job whose work grows with the sockets may take (it rests in
between): at 10,000 sockets the presence counts and the session checks would take most of it."""
PEAK_READ_S = 30.0
"""How often the presence counts read every presence row of the day for the day's peak; between
two reads the peak is the last one read or the online count, whichever is higher."""
VOTES_SOCKETS_PER_BEAT = 2000
VOTES_MAX_S = 1.0
"""Coalesced vote totals go out every ``votes_s`` to a room of up to ``VOTES_SOCKETS_PER_BEAT``
sockets, and proportionally less often in a larger one (at most every ``VOTES_MAX_S``): each
totals event is a frame to every socket, 10,000 writes at 10,000 attendees."""


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
    presence_flush_s: float = 0.25  # new presence rows are written in one batch this often

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
    def heartbeat_read_s(self) -> float:
        """How long a beat waits for the committed positions before it goes out from the last ones."""
        return min(2.0, self.heartbeat_s / 2)

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
        statement_max_chars: int = DEFAULT_STATEMENT_MAX_CHARS,
    ) -> None:
        self.sessions = sessions
        self.bus = bus
        self.clock = clock
        self.timing = timing
        self.server_id = f"srv-{uuid.uuid4().hex[:12]}"
        self.live = LiveService(sessions, bus, clock=clock, statement_max_chars=statement_max_chars)
        self.attendance = AttendanceService(sessions, self.server_id, stale_after=timing.stale_after, write_behind=True)
        self.hub = Hub(bus, self.live)
        self.snapshots = SharedSnapshots(self.hub, self.live)
        self.joins = BatchedJoins(sessions, now=clock.now)
        self.timed_out: set[str] = set()
        self.counted_events: set[int] = set()
        self._last_counts: dict[int, tuple[int, int, dict[str, int]]] = {}
        self._peaks: dict[int, tuple[datetime, int]] = {}  # event -> (its day's start, the peak known)
        self._peak_read_at: dict[int, float] = {}  # event -> when its rows were last read (monotonic)
        self._votes_flushed_at = 0.0
        self.jobs: dict[str, PeriodicJob] = {}
        self.idle_closes = 0

    # --- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        closed = await self.attendance.sweep(now=self.clock.now())
        if closed:
            log.info("closed %d presence intervals left open by a stopped server", closed)
        recounted = await self.live.reconcile_votes()  # totals a killed process had not flushed yet
        if recounted:
            log.info("vote totals rebuilt from the recorded votes for events %s", recounted)
        for name, every, job, share in (
            ("heartbeat", self.timing.heartbeat_s, self._heartbeat, 1.0),
            # every beat, whatever it costs: a row not written for two beats looks like a crashed process's
            ("last_seen", self.timing.heartbeat_s, self._record_seen, 1.0),
            ("presence", self.timing.presence_flush_s, self.attendance.flush, 1.0),
            ("revalidate", self.timing.revalidate_s, self._revalidate, JOB_SHARE),
            ("votes", self.timing.votes_s, self._flush_votes, 1.0),
            ("counts", self.timing.counts_s, self._counts, JOB_SHARE),
            ("sweep", self.timing.sweep_s, self._sweep, JOB_SHARE),
        ):
            periodic = PeriodicJob(name, every, job, max_share=share)
            periodic.start()
            self.jobs[name] = periodic

    async def stop(self) -> None:
        for periodic in self.jobs.values():
            await periodic.stop()
        with contextlib.suppress(Exception):  # else the start-up sweep of the next process closes them
            await self.attendance.flush()
        log.info("live figures at shutdown: %s", self.figures())
        for conn in list(self.hub.connections):
            with contextlib.suppress(Exception):
                await conn.ws.close(1001, "server shutting down")
        await self.hub.close()

    def figures(self) -> dict[str, int]:
        """What this process did, for the shutdown log and the benchmarks."""
        figures = {
            "joins_resolved": self.joins.resolved,
            "join_batches": self.joins.batches,
            "snapshot_reads": self.snapshots.reads,
            "snapshots_served": self.snapshots.served,
            "presence_rows_written": self.attendance.rows_written,
            "presence_rows_closed": self.attendance.rows_closed,
            "presence_batches": self.attendance.batches_written,
            "idle_closes": self.idle_closes,
            "slow_heartbeat_reads": self.hub.slow_heartbeat_reads,
        }
        for name, job in self.jobs.items():
            figures[f"job_{name}_failures"] = job.failures
            figures[f"job_{name}_skipped"] = job.skipped
            figures[f"job_{name}_rested"] = job.rested
        return figures

    # --- jobs --------------------------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        """Beat, then close the sockets silent for the idle timeout after a heartbeat actually
        reached them (``Connection.idle``): a beat that could not go out closes nobody."""
        now = self.clock.now()
        # spread over half the period, so the beat (and the idle check after it) ends well before the next
        await self.hub.beat(
            now, deadline_s=self.timing.heartbeat_read_s, spread_s=self.timing.heartbeat_s / 2, clock=self.clock.now
        )
        metrics.observe_outboxes(len(c.outbox) for c in self.hub.connections)
        now = self.clock.now()
        stale = [c for c in self.hub.connections if c.idle(now, self.timing.idle_after_s)]
        for conn in stale:
            self.timed_out.add(conn.id)
            self.idle_closes += 1
            metrics.IDLE_CLOSES.inc()
            with contextlib.suppress(Exception):
                await conn.ws.close(CLOSE_IDLE, "no heartbeat answer")

    async def _record_seen(self) -> None:
        """Batched ``last_seen_at`` of every attendee's presence: its own job, so a slow write never
        delays a heartbeat. One statement for all the sockets that answered every heartbeat written
        to them, one row each for the few that did not (their last frame)."""
        now = self.clock.now()
        silent = [
            (c.id, at)
            for c in self.hub.connections
            if c.principal.kind == "attendee"
            and c.id not in self.timed_out
            and (at := c.alive_at(now)) is not None
            and at != now
        ]
        await self.attendance.seen_now(now, silent=silent, leave=self.timed_out)

    async def _flush_votes(self) -> None:
        loop = asyncio.get_running_loop()
        every = min(VOTES_MAX_S, self.timing.votes_s * len(self.hub.connections) / VOTES_SOCKETS_PER_BEAT)
        if loop.time() - self._votes_flushed_at < every:
            return  # a large room: fewer totals events, each still carrying every change since the last
        self._votes_flushed_at = loop.time()
        await self.live.flush_votes()

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
            now, read_at = self.clock.now(), asyncio.get_running_loop().time()
            full = read_at - self._peak_read_at.get(event_id, -PEAK_READ_S) >= PEAK_READ_S
            counts = await self.attendance.counts(
                event_id, now=now, peak_known=None if full else self._peaks.get(event_id)
            )
            if full:
                self._peak_read_at[event_id] = read_at
            self._peaks[event_id] = (self.attendance.day_start(event_id, now), counts[1])
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
        text, positions = await self.snapshots.frame(conn, now=self.clock.now())
        conn.reply(text)  # written directly when nothing waits before it: no writer task per join
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
            metrics.RESYNCS.labels(reason=reason).inc()
        await self.send_snapshot(conn)

    async def writer(self, conn: Connection) -> None:
        """The only task that writes to ``conn``'s socket through ASGI: drains its outbox in order,
        then ends (``Connection.wake`` starts it again when a frame has to wait)."""
        try:
            while conn.state is not ConnectionState.CLOSED and (conn.outbox or conn.needs_snapshot):
                if conn.needs_snapshot:
                    conn.needs_snapshot = False
                    metrics.RESYNCS.labels(reason="server").inc()
                    conn.outbox.clear()
                    await conn.ws.send_text(RESYNC_SLOW)
                    await self.send_snapshot(conn)
                conn.writing = True
                try:
                    while conn.outbox:
                        text = conn.outbox.pop(0)
                        await conn.ws.send_text(text)
                        if text.startswith(HEARTBEAT_PREFIX):
                            conn.beat_written(self.clock.now())
                finally:
                    conn.writing = False
        except Exception:  # the peer went away: the reader sees the disconnect and cleans up
            conn.writer_stopped = True
            log.debug("writer of %s stopped", conn.id, exc_info=True)
        finally:
            conn.writer_task = None  # in the step that found the outbox empty: a later frame starts a new one
