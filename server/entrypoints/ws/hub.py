"""Fan-out inside one server process: one bus subscription per (event, channel), every socket fed
in one plain loop with the text encoded once by the publisher.

A feed delivers its channel's events in ``seq`` order without gaps: replicas publish after their
own commits, so frames can cross; an early frame waits briefly for the missing ones, which are
then read from the event log. A bus reset (Redis reconnected, an overflow) sends every socket of
the feed a fresh snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime

from server.adapters.bus.base import Bus, BusReset
from server.core.forecast import forecast
from server.entrypoints.ws.connection import Connection, ConnectionState
from server.entrypoints.ws.wire import text_frame
from server.protocol import Channel, encode_frame
from server.protocol.frames import ChannelSeqs, HeartbeatFrame, ResyncFrame
from server.services.live import LiveService, topic

log = logging.getLogger("parley.hub")

GAP_WAIT_S = 0.25


class Feed:
    def __init__(self, hub: Hub, event_id: int, channel: Channel) -> None:
        self.hub = hub
        self.event_id = event_id
        self.channel = channel
        self.connections: set[Connection] = set()
        self.epoch: str | None = None
        self.last_seq = 0
        self.early: dict[int, str] = {}
        self.ready = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self._gap_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=f"feed-{self.event_id}-{self.channel}")
        try:
            await asyncio.wait_for(self.ready.wait(), 10)
        except BaseException:  # not ready (the database is overloaded): no half-started feed stays behind
            await self.stop()
            raise

    async def _run(self) -> None:
        async with self.hub.bus.subscribe(topic(self.event_id, self.channel)) as subscription:
            await self._sync_position()  # after subscribing: nothing published since can be missed
            self.ready.set()
            async for item in subscription:
                if isinstance(item, BusReset):
                    log.warning("bus reset on %s (%s): resyncing its sockets", subscription.topic, item.reason)
                    await self._sync_position()
                    self.early.clear()
                    for conn in list(self.connections):
                        self.hub.resync(conn)
                    continue
                await self.receive(item)

    async def _sync_position(self) -> None:
        position = await self.hub.live.position(self.event_id)
        if position is not None:
            self.epoch = position.epoch
            self.last_seq = max(self.last_seq, position.seq(self.channel)) if self.epoch == position.epoch else 0

    async def receive(self, text: str) -> None:
        head = json.loads(text)
        seq, epoch = int(head["seq"]), str(head["epoch"])
        if epoch != self.epoch:
            self.epoch, self.last_seq = epoch, seq - 1  # first event of this state: start from it
            self.early.clear()
        if seq <= self.last_seq:
            return
        if seq > self.last_seq + 1:
            self.early[seq] = text
            if self._gap_task is None or self._gap_task.done():
                self._gap_task = asyncio.create_task(self._fill_gap())
            return
        await self._deliver(seq, text)
        while self.last_seq + 1 in self.early:
            await self._deliver(self.last_seq + 1, self.early.pop(self.last_seq + 1))

    async def _deliver(self, seq: int, text: str) -> None:
        """One plain loop, the same bytes for all: the frame is built once and written straight to
        every socket that can take it now (no await), queued for its writer otherwise."""
        self.last_seq = seq
        frame = text_frame(text)
        for conn in list(self.connections):
            if conn.cursor.get(self.channel, 0) == seq - 1 and conn.write_now(frame):
                conn.cursor[self.channel] = seq
                self.hub.direct_writes += 1
            else:
                conn.offer(self.channel, seq, text)
                self.hub.queued_writes += 1

    async def _fill_gap(self) -> None:
        await asyncio.sleep(GAP_WAIT_S)
        if not self.early or self.epoch is None:
            return
        frames = await self.hub.live.replay(self.event_id, self.channel, self.epoch, self.last_seq)
        if frames is None:
            for conn in list(self.connections):
                self.hub.resync(conn)
            return
        for text in frames:
            await self.receive(text)

    async def stop(self) -> None:
        for task in (self.task, self._gap_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


class Hub:
    def __init__(self, bus: Bus, live: LiveService) -> None:
        self.bus = bus
        self.live = live
        self.feeds: dict[tuple[int, Channel], Feed] = {}
        self._feed_locks: defaultdict[tuple[int, Channel], asyncio.Lock] = defaultdict(asyncio.Lock)
        self.connections: set[Connection] = set()
        self.on_resync: Callable[[Connection], Awaitable[None]] | None = None
        self.direct_writes = 0  # frames the fan-out loop wrote straight to a transport
        self.queued_writes = 0  # frames it left to a socket's writer (busy, slow, or unknown server)

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

    async def detach(self, conn: Connection) -> None:
        conn.state = ConnectionState.CLOSED
        conn.wake.set()
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
        conn.wake.set()

    async def heartbeat_frames(self, now: datetime) -> dict[tuple[int, bool], str]:
        """One encoded heartbeat per (event, staff?), shared by every socket of that kind."""
        frames: dict[tuple[int, bool], str] = {}
        for event_id in {event_id for event_id, _ in self.feeds}:
            public = self.feeds.get((event_id, "public"))
            staff = self.feeds.get((event_id, "staff"))
            if public is None:
                continue
            state, _ = await self.live.state(event_id)
            projected = forecast(state, now)
            frames[(event_id, False)] = encode_frame(
                HeartbeatFrame(server_time=now, seqs=ChannelSeqs(public=public.last_seq), forecast=projected)
            )
            if staff is not None:
                frames[(event_id, True)] = encode_frame(
                    HeartbeatFrame(
                        server_time=now,
                        seqs=ChannelSeqs(public=public.last_seq, staff=staff.last_seq),
                        forecast=projected,
                    )
                )
        return frames

    async def beat(self, now: datetime) -> None:
        frames = await self.heartbeat_frames(now)
        encoded = {key: text_frame(text) for key, text in frames.items()}
        for conn in self.connections:
            if conn.state is ConnectionState.LIVE:
                key = (conn.event_id, "staff" in conn.channels)
                text = frames.get(key)
                if text is not None and not conn.write_now(encoded[key]):
                    conn.send(text)

    async def close(self) -> None:
        for feed in list(self.feeds.values()):
            await feed.stop()
        self.feeds.clear()


RESYNC_SLOW = encode_frame(ResyncFrame(reason="slow_consumer"))
