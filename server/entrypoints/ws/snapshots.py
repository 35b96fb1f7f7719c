"""Snapshots for joining sockets, built from one shared read per ``seq``.

In a join storm thousands of sockets want the same state at the same ``seq``. Reading and decoding
it from the database, then encoding its public part, once per socket was most of a join's cost. So
the state read for one join serves every socket that joins while the feeds have delivered nothing
newer, and its public (and staff) parts are encoded to JSON once and spliced into each socket's
frame; only ``me`` (the person's own entry, questions and votes) and the forecast are built per
socket. The text is the one ``encode_frame(SnapshotFrame(...))`` would give
(``tests/test_live_snapshots.py`` pins it).

Why it is consistent: a socket is attached to its feeds (events held for it) before its snapshot
is taken. A cached state at ``seq`` S serves it only if S is at least every feed's last delivered
``seq``: everything after S reaches it through the feed (or was already in S, and is dropped as
older than its cursor). An older cache is read again, one read at a time for everyone waiting.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime

from server.core.forecast import forecast
from server.core.state import LiveState
from server.core.views import personal_view
from server.entrypoints.ws.connection import Connection
from server.entrypoints.ws.hub import Hub
from server.protocol import PROTOCOL_VERSION, ChannelPosition, ChannelPositions
from server.services.live import LiveService, Position


@dataclass(frozen=True)
class SharedState:
    state: LiveState
    position: Position
    public_json: str
    staff_json: str


def snapshot_text(
    shared: SharedState, *, staff: bool, me_json: str, forecast_json: str, channels: ChannelPositions
) -> str:
    """``encode_frame(SnapshotFrame(...))``, with the shared parts spliced in as they were encoded."""
    return (
        f'{{"type":"snapshot","protocol_version":{json.dumps(PROTOCOL_VERSION)},'
        f'"channels":{channels.model_dump_json()},"public":{shared.public_json},'
        f'"staff":{shared.staff_json if staff else "null"},"me":{me_json},"forecast":{forecast_json}}}'
    )


class SharedSnapshots:
    def __init__(self, hub: Hub, live: LiveService) -> None:
        self.hub = hub
        self.live = live
        self._shared: dict[int, SharedState] = {}
        self._reads: dict[int, tuple[int, asyncio.Task[SharedState]]] = {}
        self._generation = 0
        self.reads = 0  # states read from the database for joining sockets
        self.served = 0  # snapshots built from them

    def _fresh(self, conn: Connection, shared: SharedState | None) -> bool:
        if shared is None:
            return False
        for channel in conn.channels:
            feed = self.hub.feeds.get((conn.event_id, channel))
            if feed is None:
                return False
            if feed.epoch is not None and feed.epoch != shared.position.epoch:
                return False
            if shared.position.seq(channel) < feed.last_seq:
                return False
        return True

    async def _read(self, event_id: int) -> SharedState:
        state, position = await self.live.state(event_id)
        self.reads += 1
        shared = SharedState(
            state=state,
            position=position,
            public_json=state.public.model_dump_json(),
            staff_json=state.staff.model_dump_json(),
        )
        self._shared[event_id] = shared
        return shared

    async def shared_state(self, conn: Connection) -> SharedState:
        """A state at least as new as what ``conn``'s feeds delivered before it attached: the cached
        one, or one read after it attached (shared with everyone who arrives while it is read)."""
        shared = self._shared.get(conn.event_id)
        if self._fresh(conn, shared):
            assert shared is not None
            return shared
        arrival = self._generation
        while True:
            entry = self._reads.get(conn.event_id)
            if entry is None or (entry[1].done() and entry[0] <= arrival):
                self._generation += 1
                entry = self._reads[conn.event_id] = (self._generation, asyncio.create_task(self._read(conn.event_id)))
            generation, reading = entry
            shared = await asyncio.shield(reading)  # one joiner's disconnect does not cancel everyone's read
            if generation > arrival or self._fresh(conn, shared):
                return shared  # read after this socket attached, or new enough anyway
            # a read that began before this socket attached and is older than its feeds: read again

    async def frame(self, conn: Connection, *, now: datetime) -> tuple[str, dict[str, int]]:
        """The snapshot text for ``conn`` and the channel positions it reflects."""
        shared = await self.shared_state(conn)
        position = shared.position
        voted: list[int] = []
        if shared.state.public.questions:  # only published questions can carry the person's votes
            voted = await self.live.voted(conn.event_id, conn.actor_key)
        ballots: dict[int, list[int]] = {}
        if shared.state.public.polls and conn.actor.kind == "attendee":  # only attendees vote in polls
            ballots = await self.live.ballots(conn.event_id, conn.actor_key)
        staff = "staff" in conn.channels
        channels = ChannelPositions(
            public=ChannelPosition(epoch=position.epoch, seq=position.public_seq),
            staff=ChannelPosition(epoch=position.epoch, seq=position.staff_seq) if staff else None,
        )
        me = personal_view(shared.state, conn.actor, voted, ballots)
        projected = forecast(shared.state, now)
        text = snapshot_text(
            shared,
            staff=staff,
            me_json=me.model_dump_json(),
            forecast_json=projected.model_dump_json() if projected is not None else "null",
            channels=channels,
        )
        self.served += 1
        positions = {"public": position.public_seq}
        if staff:
            positions["staff"] = position.staff_seq
        return text, positions
