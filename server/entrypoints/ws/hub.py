"""Fan-out inside one server process: one bus subscription per (event, channel), every socket fed
in one plain loop with the text encoded once by the publisher.

A feed delivers its channel's events in ``seq`` order without gaps: replicas publish after their
own commits, so frames can cross; an early frame waits briefly for the missing ones, which are
then read from the event log. A bus reset (Redis reconnected, an overflow) sends every socket of
the feed a fresh snapshot.

Nothing is lost silently. A feed is supervised: if it fails, the failure is logged, the feed
subscribes again and its sockets catch up from the event log (or resync). A publish that never
came (Redis down at that instant) is noticed at the next heartbeat, which reads the committed
position: the feed then reads the missing events from the log, and the heartbeat tells clients
the committed ``seq``, not the one this process happened to receive.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime

from server.adapters import metrics
from server.adapters.bus.base import Bus, BusReset
from server.core.forecast import forecast
from server.core.state import LiveState
from server.entrypoints.ws.connection import Connection, ConnectionState
from server.entrypoints.ws.wire import text_frame
from server.protocol import CHANNELS, Channel, encode_frame
from server.protocol.frames import ChannelSeqs, HeartbeatFrame, ResyncFrame
from server.services.live import LiveService, Position, topic

log = logging.getLogger("parley.hub")

GAP_WAIT_S = 0.25
START_TIMEOUT_S = 10.0
RESTART_DELAYS_S = (0.1, 0.5, 1.0, 2.0, 5.0)
"""Pause before each further restart of a failing feed (the last repeats); a feed that ran for
``HEALTHY_AFTER_S`` starts again from the first."""
HEALTHY_AFTER_S = 30.0
COALESCE_MAX = 64
"""The most frames the fan-out writes to a socket at once (those that arrived while it was busy)."""
FANOUT_REST_SHARE = 0.5
FANOUT_REST_AFTER_S = 0.02
"""After a delivery that took longer than ``FANOUT_REST_AFTER_S`` (thousands of sockets), the feed
rests for this share of that time before the next: the commands behind it (50 approvals in a
second) get the loop meanwhile, and the frames they publish go out together in the next write.
Without it every event of a burst was a separate write to every socket, and the burst queued."""
SLOW_READ_WARNING_EVERY_S = 300.0
"""A heartbeat that could not read the committed positions in time says so at most this often."""
BEAT_SLICE_SOCKETS = 500
BEAT_SLICES_MAX = 20
"""A beat to many sockets goes out in slices of about this many sockets, spread over part of the
heartbeat period: every client answers its heartbeat at once, and 10,000 answers arriving together
kept the event loop busy for most of a second, delaying any command or fan-out behind them."""


def seq_of(text: str) -> int:
    return int(json.loads(text)["seq"])


class Feed:
    def __init__(self, hub: Hub, event_id: int, channel: Channel) -> None:
        self.hub = hub
        self.event_id = event_id
        self.channel = channel
        self.connections: set[Connection] = set()
        self.epoch: str | None = None
        self.last_seq = 0  # the last seq handed to every socket of the feed (written or queued)
        self.early: dict[int, str] = {}
        self.ready = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self._gap_task: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return f"{self.event_id}/{self.channel}"

    async def start(self) -> None:
        """Subscribe and read the position. The first attempt's failure is the caller's (a join
        under an overloaded database is told to come back later); later ones the supervisor's."""
        self.task = asyncio.create_task(self._supervise(), name=f"feed-{self.event_id}-{self.channel}")
        ready = asyncio.ensure_future(self.ready.wait())
        try:
            await asyncio.wait({ready, self.task}, timeout=START_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED)
            if not self.ready.is_set():
                if self.task.done():
                    self.task.result()  # raises what stopped the first attempt
                raise TimeoutError(f"feed {self.name} not ready in {START_TIMEOUT_S:.0f} s")
        except BaseException:  # not ready (the database is overloaded): no half-started feed stays behind
            await self.stop()
            raise
        finally:
            ready.cancel()

    async def _supervise(self) -> None:
        """Run the feed; after any failure log it, wait a little, subscribe again and catch up."""
        failures = 0
        while True:
            began = time.monotonic()
            try:
                await self._follow()
                problem = "its subscription ended"
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not self.ready.is_set():
                    raise  # the first start: Feed.start raises it to the joining socket
                problem = f"it failed ({type(exc).__name__}: {exc})"
                log.exception("feed %s failed", self.name)
            if time.monotonic() - began > HEALTHY_AFTER_S:
                failures = 0
            delay = RESTART_DELAYS_S[min(failures, len(RESTART_DELAYS_S) - 1)]
            failures += 1
            self.hub.feed_restarts += 1
            metrics.FEED_RESTARTS.inc()
            log.warning(
                "feed %s stopped: %s; restarting in %.1f s, then its %d sockets catch up from the event log",
                self.name,
                problem,
                delay,
                len(self.connections),
            )
            await asyncio.sleep(delay)

    async def _follow(self) -> None:
        async with self.hub.bus.subscribe(topic(self.event_id, self.channel)) as subscription:
            # after subscribing: nothing published since can be missed
            if self.ready.is_set():
                await self._recover()
            else:
                await self._sync_position()
                self.ready.set()
            async for item in subscription:
                if isinstance(item, BusReset):
                    log.warning("bus reset on %s (%s): resyncing its sockets", subscription.topic, item.reason)
                    await self._sync_position()
                    self.early.clear()
                    for conn in list(self.connections):
                        self.hub.resync(conn)
                    continue
                texts = [item]
                # what else has arrived meanwhile goes out with it: during a burst (50 approvals in a
                # second) each socket gets one write of several frames instead of one write per frame
                while len(subscription.inbox) and len(texts) < COALESCE_MAX:
                    more = await subscription.get()  # queued: returns at once
                    if isinstance(more, BusReset):
                        await self.receive_many(texts)
                        texts = []
                        log.warning("bus reset on %s (%s): resyncing its sockets", subscription.topic, more.reason)
                        await self._sync_position()
                        self.early.clear()
                        self._resync_all()
                        break
                    texts.append(more)
                began = time.perf_counter()
                await self.receive_many(texts)
                took = time.perf_counter() - began
                if took > FANOUT_REST_AFTER_S:
                    await asyncio.sleep(took * FANOUT_REST_SHARE)

    async def _sync_position(self) -> None:
        position = await self.hub.live.position(self.event_id)
        if position is not None:
            self.epoch = position.epoch
            self.last_seq = max(self.last_seq, position.seq(self.channel)) if self.epoch == position.epoch else 0

    async def _recover(self) -> None:
        """After a restart: hand every socket what it missed, from the event log. A live socket may
        lack events the feed counted as handed out (a failure in the middle of a delivery), and the
        feed lacks whatever was published while it was down. One read serves both."""
        self.early.clear()
        position = await self.hub.live.position(self.event_id)
        if position is None:
            return
        if self.epoch != position.epoch:  # the state was reset meanwhile: nothing to replay
            self.epoch, self.last_seq = position.epoch, position.seq(self.channel)
            self._resync_all()
            return
        behind = [
            c
            for c in self.connections
            if c.state is ConnectionState.LIVE and c.cursor.get(self.channel, 0) < self.last_seq
        ]
        start = min((c.cursor.get(self.channel, 0) for c in behind), default=self.last_seq)
        frames = await self.hub.live.replay(self.event_id, self.channel, position.epoch, start)
        if frames is None:  # too far behind for a replay
            self.last_seq = max(self.last_seq, position.seq(self.channel))
            self._resync_all()
            return
        for text in frames:
            seq = seq_of(text)
            if seq <= self.last_seq:
                for conn in behind:
                    conn.offer(self.channel, seq, text)  # ignored by sockets that have it
            else:
                await self.receive(text)
        log.info("feed %s caught up to seq %d after its restart", self.name, self.last_seq)

    def _resync_all(self) -> None:
        for conn in list(self.connections):
            self.hub.resync(conn)

    async def receive(self, text: str) -> None:
        await self.receive_many([text])

    async def receive_many(self, texts: list[str]) -> None:
        """Frames from the bus, in the order received: the next ones in ``seq`` order go out
        together (``_deliver``), early ones wait for the gap to fill."""
        ready: list[tuple[int, str]] = []
        for text in texts:
            head = json.loads(text)
            seq, epoch = int(head["seq"]), str(head["epoch"])
            if epoch != self.epoch:
                self._deliver(ready)  # the old state's frames first
                ready = []
                self.epoch, self.last_seq = epoch, seq - 1  # first event of this state: start from it
                self.early.clear()
            last = ready[-1][0] if ready else self.last_seq
            if seq <= last:
                continue
            if seq > last + 1:
                self.early[seq] = text
                continue
            ready.append((seq, text))
            while ready[-1][0] + 1 in self.early:
                ready.append((ready[-1][0] + 1, self.early.pop(ready[-1][0] + 1)))
        self._deliver(ready)
        if self.early and (self._gap_task is None or self._gap_task.done()):
            self._gap_task = asyncio.create_task(self._fill_gap())

    def _deliver(self, ready: list[tuple[int, str]]) -> None:
        """One plain loop, the same bytes for all: the frames (consecutive seqs) are framed once and
        written straight to every socket that can take them now, in one write (no await), queued
        for its writer otherwise."""
        if not ready:
            return
        began = time.perf_counter()
        first, last = ready[0][0], ready[-1][0]
        frame = b"".join(text_frame(text) for _, text in ready)
        self.last_seq = last
        conns = list(self.connections)
        for conn in conns:
            if conn.cursor.get(self.channel, 0) == first - 1 and self.hub.write_direct(conn, frame):
                conn.cursor[self.channel] = last
                self.hub.direct_writes += 1
            else:
                for seq, text in ready:
                    conn.offer(self.channel, seq, text)
                self.hub.queued_writes += 1
        metrics.observe_fanout(len(conns) * len(ready), time.perf_counter() - began)

    async def _fill_gap(self) -> None:
        await asyncio.sleep(GAP_WAIT_S)
        if not self.early:
            return
        try:
            await self.catch_up()
        except Exception:  # the next early frame or heartbeat tries again
            log.exception("feed %s could not read its gap from the event log", self.name)

    async def catch_up(self) -> None:
        """Deliver what the event log holds after ``last_seq``: events whose publish never came."""
        if self.epoch is None:
            return
        frames = await self.hub.live.replay(self.event_id, self.channel, self.epoch, self.last_seq)
        if frames is None:
            self._resync_all()
            return
        for text in frames:
            await self.receive(text)

    async def stop(self) -> None:
        for task in (self.task, self._gap_task):
            if task is not None:
                task.cancel()
                # cancelled, or the first start's failure, which Feed.start has raised to its caller
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


class Hub:
    def __init__(self, bus: Bus, live: LiveService) -> None:
        self.bus = bus
        self.live = live
        self.feeds: dict[tuple[int, Channel], Feed] = {}
        self._feed_locks: defaultdict[tuple[int, Channel], asyncio.Lock] = defaultdict(asyncio.Lock)
        self.connections: set[Connection] = set()
        self.direct_writes = 0  # frames the fan-out loop wrote straight to a transport
        self.queued_writes = 0  # frames it left to a socket's writer (busy, slow, or unknown server)
        self.direct_failures = 0  # sockets whose direct writer raised: they use ASGI from then on
        self.feed_restarts = 0
        self.slow_heartbeat_reads = 0  # beats sent from the last state read: the database was slow
        self._slow_said_at = -SLOW_READ_WARNING_EVERY_S
        self._committed: dict[int, tuple[LiveState, Position]] = {}
        self._reading: asyncio.Task[None] | None = None

    async def feed(self, event_id: int, channel: Channel) -> Feed:
        key = (event_id, channel)
        async with self._feed_locks[key]:
            feed = self.feeds.get(key)
            if feed is None or (feed.task is not None and feed.task.done()):
                feed = Feed(self, event_id, channel)
                await feed.start()
                self.feeds[key] = feed
            return feed

    async def attach(self, conn: Connection) -> None:
        """Start holding events for ``conn`` (before its snapshot is loaded: nothing slips between)."""
        conn.hold()
        for channel in conn.channels:
            (await self.feed(conn.event_id, channel)).connections.add(conn)
        self.connections.add(conn)
        metrics.CONNECTIONS.inc()

    async def detach(self, conn: Connection) -> None:
        conn.state = ConnectionState.CLOSED
        conn.wake()
        if conn in self.connections:
            metrics.CONNECTIONS.dec()
        self.connections.discard(conn)
        for channel in conn.channels:
            feed = self.feeds.get((conn.event_id, channel))
            if feed is not None:
                feed.connections.discard(conn)
                if not feed.connections:
                    self.feeds.pop((conn.event_id, channel), None)
                    await feed.stop()

    def resync(self, conn: Connection) -> None:
        """Tell ``conn`` to reload: its writer sends ``resync`` then a fresh snapshot."""
        conn.outbox.clear()
        conn.needs_snapshot = True
        conn.wake()

    def write_direct(self, conn: Connection, frame: bytes) -> bool:
        """``conn.write_now(frame)``, but a direct writer that raises (the server's internals are not
        what wire.py expects) costs nothing but speed: that socket goes through ASGI from now on,
        and the process says so once, not once per event."""
        try:
            return conn.write_now(frame)
        except Exception:
            conn.direct = None
            self.direct_failures += 1
            if self.direct_failures == 1:
                log.warning(
                    "writing a frame directly to a socket failed: it and any other socket that fails "
                    "go through ASGI from now on (slower, nothing lost)",
                    exc_info=True,
                )
            return False

    async def heartbeat_frames(self, now: datetime, *, deadline_s: float | None = None) -> dict[tuple[int, bool], str]:
        """One encoded heartbeat per (event, staff?), shared by every socket of that kind.

        The ``seqs`` are the committed ones, read once per event (with the state the forecast
        needs), not the last ones this process received: a publish that failed after its commit
        would otherwise stay unnoticed on a quiet channel. A feed behind the committed position
        first reads the missing events from the log, so its sockets get them before the heartbeat.

        Heartbeats keep their rhythm when the database is slow (a join storm, an outage): a read
        that takes longer than ``deadline_s`` is left to finish in the background (one at a time,
        never piled up) and this beat is built from the last state read, with the feeds' own
        positions; the process says so once per slow spell."""
        reading = self._reading
        if reading is not None and reading.done() and not reading.cancelled():
            reading.exception()  # seen: a failure after its beat's deadline was that beat's to log
        if reading is None or reading.done():
            reading = self._reading = asyncio.create_task(self._read_committed(), name="heartbeat-read")
        done, _ = await asyncio.wait({reading}, timeout=deadline_s)
        if reading in done:
            reading.result()  # a failed read fails this beat (the periodic job says so)
        else:
            self.slow_heartbeat_reads += 1
            now_s = time.monotonic()
            if now_s - self._slow_said_at > SLOW_READ_WARNING_EVERY_S:  # once, not once a beat
                log.warning(
                    "the committed positions were not read within %.1f s: heartbeats go out from the last "
                    "state read and the feeds' positions until the database answers in time "
                    "(%d such beats so far)",
                    deadline_s,
                    self.slow_heartbeat_reads,
                )
                self._slow_said_at = now_s
        return self._frames_now(now)

    def _frames_now(self, now: datetime) -> dict[tuple[int, bool], str]:
        """The heartbeats from the last committed positions read and the feeds' positions now."""
        read = {event_id: self._committed[event_id] for event_id, _ in self.feeds if event_id in self._committed}
        # no await from here until written: an event committed after the read and delivered
        # meanwhile is counted, so a heartbeat never reports less than its sockets already have
        frames: dict[tuple[int, bool], str] = {}
        for event_id, (state, position) in read.items():
            seqs = {channel: position.seq(channel) for channel in CHANNELS}
            for channel in CHANNELS:
                feed = self.feeds.get((event_id, channel))
                if feed is not None and feed.epoch == position.epoch:
                    seqs[channel] = max(seqs[channel], feed.last_seq)
            projected = forecast(state, now)
            frames[(event_id, False)] = encode_frame(
                HeartbeatFrame(server_time=now, seqs=ChannelSeqs(public=seqs["public"]), forecast=projected)
            )
            if (event_id, "staff") in self.feeds:
                frames[(event_id, True)] = encode_frame(
                    HeartbeatFrame(
                        server_time=now,
                        seqs=ChannelSeqs(public=seqs["public"], staff=seqs["staff"]),
                        forecast=projected,
                    )
                )
        return frames

    async def _read_committed(self) -> None:
        for event_id in {event_id for event_id, _ in self.feeds}:
            if (event_id, "public") in self.feeds:
                self._committed[event_id] = state, position = await self.live.state(event_id)
                for channel in CHANNELS:
                    feed = self.feeds.get((event_id, channel))
                    if feed is not None and feed.epoch == position.epoch:
                        await self._catch_up_to(feed, position)
        for event_id in list(self._committed):
            if (event_id, "public") not in self.feeds:
                del self._committed[event_id]

    async def _catch_up_to(self, feed: Feed, position: Position) -> None:
        if feed.last_seq < position.seq(feed.channel):
            # a publish lost after its commit, or one still on its way: one read of the log either way
            log.info(
                "feed %s is at seq %d, %d committed: reading the rest from the event log",
                feed.name,
                feed.last_seq,
                position.seq(feed.channel),
            )
            await feed.catch_up()

    async def beat(
        self,
        now: datetime,
        *,
        deadline_s: float | None = None,
        spread_s: float = 0.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """One heartbeat to every live socket. With ``spread_s``, many sockets get theirs in slices
        (``BEAT_SLICE_SOCKETS``) spread over that time, each slice's frames built when it goes out
        (its ``seqs`` and ``server_time`` current), so their answers do not all arrive at once."""
        frames = await self.heartbeat_frames(now, deadline_s=deadline_s)
        conns = [c for c in self.connections if c.state is ConnectionState.LIVE]
        slices = max(1, min(BEAT_SLICES_MAX, len(conns) // BEAT_SLICE_SOCKETS)) if spread_s > 0 else 1
        for k in range(slices):
            if k:
                await asyncio.sleep(spread_s / slices)
                now = clock() if clock is not None else now
                frames = self._frames_now(now)
            self._write_beat(conns[k::slices], frames, now)

    def _write_beat(self, conns: list[Connection], frames: dict[tuple[int, bool], str], now: datetime) -> None:
        encoded = {key: text_frame(text) for key, text in frames.items()}
        for conn in conns:
            if conn.state is ConnectionState.LIVE:
                key = (conn.event_id, "staff" in conn.channels)
                text = frames.get(key)
                if text is None:
                    continue
                if self.write_direct(conn, encoded[key]):
                    conn.beat_written(now)
                else:
                    conn.send(text)  # its writer marks the beat written when it writes it

    async def close(self) -> None:
        if self._reading is not None:
            self._reading.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reading
        for feed in list(self.feeds.values()):
            await feed.stop()
        self.feeds.clear()


RESYNC_SLOW = encode_frame(ResyncFrame(reason="slow_consumer"))
HEARTBEAT_PREFIX = '{"type":"heartbeat"'
"""How every encoded heartbeat begins (``tests/test_live_idle.py`` pins it): a socket's writer
marks the beat written when the text it writes starts so."""
