"""One simulated browser tab: a websocket to the live session that follows the protocol as
``frontend/js/connection.js`` does (snapshot, seq per channel, resume after a drop, a ``ping`` on
every heartbeat) and keeps count of everything that would be a bug: a gap or a duplicate ``seq``,
an idle close while it was answering, an error it did not expect.

Every event and snapshot it sees goes to the shared ``Ledger``, which proves at the end that all
clients saw the same events at the same positions and that each snapshot equals the events before
it (``checks.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.typing import Origin

from server.adapters.clock import ScaledClock

CLOSE_IDLE = 4408
COMMAND_TIMEOUT_S = 30.0
# The server records a connection's start and end a moment after the client sees the handshake or
# the close end (its handler runs on): the brackets reach this far past what the client saw (after
# a round trip to the same server, where a tab has one: ``RoundTrip``).
SERVER_SETTLE_S = 0.5


@dataclass
class Ledger:
    """What every client saw, by channel and seq: the first text seen is canonical, any other is a bug."""

    events: dict[tuple[str, int], str] = field(default_factory=dict)
    snapshots: dict[tuple[str, int], str] = field(default_factory=dict)
    event_mismatches: int = 0
    snapshot_mismatches: int = 0
    frames: int = 0
    epochs: set[str] = field(default_factory=set)
    round_trips: int = 0  # pings answered for the tabs' brackets (``RoundTrip``)

    raw: dict[tuple[str, int], str | bytes] = field(default_factory=dict)

    def event(self, channel: str, seq: int, event: dict[str, Any], raw: str | bytes) -> None:
        """An event a client saw at (channel, seq). The server encodes an event once for every
        socket, so the same frame text is the same event; only a different text is compared as
        JSON (thousands of tabs then cost a string comparison each, not a re-encoding)."""
        key = (channel, seq)
        if self.raw.get(key) == raw:
            return
        text = json.dumps(event, sort_keys=True)
        known = self.events.setdefault(key, text)
        self.raw.setdefault(key, raw)
        if known != text:
            self.event_mismatches += 1

    first_states: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)

    def snapshot(self, channel: str, seq: int, state: dict[str, Any]) -> None:
        """A snapshot a client got at (channel, seq): the first is kept (as JSON text for the
        checks), any later one compared with it as a dict (no re-encoding per tab)."""
        key = (channel, seq)
        known = self.first_states.get(key)
        if known is None:
            self.first_states[key] = state
            self.snapshots[key] = json.dumps(state, sort_keys=True)
        elif known != state:
            self.snapshot_mismatches += 1


@dataclass
class Problems:
    """Counts of what should never happen, across all clients."""

    gaps: int = 0
    duplicates: int = 0
    idle_closed_while_answering: int = 0
    unexpected_errors: Counter[str] = field(default_factory=Counter)
    resyncs: Counter[str] = field(default_factory=Counter)
    closes: Counter[int] = field(default_factory=Counter)
    refused: int = 0

    def total(self) -> int:
        return (
            self.gaps
            + self.duplicates
            + self.idle_closed_while_answering
            + sum(self.unexpected_errors.values())
            + self.refused
        )


class CommandRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


_cids = itertools.count(1)


def _current_cancelled() -> bool:
    """Whether the task awaiting was itself cancelled (not only the command's future)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class RoundTrip:
    """Proof that a server has handled what reached it before now: a ``ping`` sent on a connection
    of its own after ``wait`` was called has been answered. Under load a server handles a close or a
    cut connection seconds after the client saw it (its event loop is behind), and records the end
    then; at 120x a second is two virtual minutes, so a fixed allowance is either too wide or too
    narrow. Waits that arrive while a ping is out share the next one (one ping at a time)."""

    PINGS_PER_S = 4

    def __init__(self, client: WireClient) -> None:
        self.client = client
        self._waiting: list[asyncio.Future[None]] = []
        self._pinging: asyncio.Task[None] | None = None

    async def wait(self) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        if self._pinging is None or self._pinging.done():
            self._pinging = asyncio.create_task(self._ping())
        await future

    async def _ping(self) -> None:
        sent = 0.0
        while self._waiting:
            # at most PINGS_PER_S: the server closes a connection that sends more than 10 frames a second
            await asyncio.sleep(max(0.0, sent + 1 / self.PINGS_PER_S - time.monotonic()))
            sent = time.monotonic()
            batch, self._waiting = self._waiting, []
            try:
                await self.client.command("ping")
                self.client.ledger.round_trips += 1
            except Exception:  # noqa: BLE001 - the connection ended: reopen it, and the waits go on as before
                self.client.problems.unexpected_errors["round trip lost"] += 1
                with contextlib.suppress(Exception):
                    await self.client.open(resume=True)
            for future in batch:
                if not future.done():
                    future.set_result(None)


class WireClient:
    def __init__(
        self,
        *,
        base_url: str,
        slug: str,
        token: str,
        clock: ScaledClock,
        ledger: Ledger,
        problems: Problems,
        on_event: Callable[[str, dict[str, Any]], None] | None = None,
        round_trip: RoundTrip | None = None,
    ) -> None:
        self.round_trip = round_trip
        self.base_url = base_url
        self.slug = slug
        self.token = token
        self.clock = clock
        self.ledger = ledger
        self.problems = problems
        self.on_event = on_event
        self.positions: dict[str, tuple[str, int]] = {}  # channel -> (epoch, seq)
        self.ws: ClientConnection | None = None
        self.me: dict[str, Any] = {}
        self.public: dict[str, Any] = {}
        self.last_sent: datetime | None = None
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._snapshot = asyncio.Event()
        self._leaving = False

    # --- opening and closing -------------------------------------------------------------------------

    def _url(self, resume: bool) -> str:
        url = self.base_url.replace("http://", "ws://") + f"/ws/events/{self.slug}"
        if resume and "public" in self.positions:
            epoch, seq = self.positions["public"]
            url += f"?epoch={epoch}&public={seq}"
            if "staff" in self.positions:
                url += f"&staff={self.positions['staff'][1]}"
        return url

    async def open(self, *, resume: bool = False) -> tuple[datetime, datetime]:
        """Connect (resuming from the positions held when ``resume``); the (before, after) instants
        bracket when the server opened this connection."""
        before = self.clock.now()
        self._snapshot.clear()
        self._leaving = False
        try:
            self.ws = await websockets.connect(
                self._url(resume),
                additional_headers={"Authorization": f"Bearer {self.token}"},
                origin=Origin(self.base_url),
                open_timeout=60,
                ping_interval=None,
                close_timeout=5,
                compression=None,
                max_size=2**24,
            )
        except (OSError, websockets.InvalidHandshake, TimeoutError):
            self.problems.refused += 1
            raise
        self.last_sent = self.clock.now()
        self._reader = asyncio.create_task(self._read(self.ws))
        if not (resume and "public" in self.positions):
            await asyncio.wait_for(self._snapshot.wait(), 60)
        return before, self.soon()  # the server records the start before it sends the snapshot

    async def close(self) -> tuple[datetime, datetime]:
        """Leave with a close handshake; (before, after) bracket when the server ended it."""
        self._leaving = True
        before = self.clock.now()
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
        await self._stop_reader()
        return before, await self.settled()

    async def drop(self) -> tuple[datetime, datetime]:
        """Cut the connection without a close (the network went away): the server ends the
        presence somewhere between the last frame it got and now."""
        self._leaving = True
        last = self.last_sent or self.clock.now()
        if self.ws is not None:
            self.ws.transport.abort()
        await self._stop_reader()
        return last, await self.settled()

    def soon(self) -> datetime:
        """The clock a moment from now (``SERVER_SETTLE_S`` real)."""
        return self.clock.at(datetime.now(UTC) + timedelta(seconds=SERVER_SETTLE_S))

    async def settled(self) -> datetime:
        """An instant by which the server has recorded what this tab did until now: after a round
        trip to the same server (when the tab has one), a moment later."""
        if self.round_trip is not None:
            await self.round_trip.wait()
        return self.soon()

    @property
    def lost(self) -> bool:
        """The connection ended without this client closing it (the server closed it)."""
        return not self._leaving and (self._reader is None or self._reader.done())

    async def lost_before(self, deadline: datetime) -> bool:
        """Wait until ``deadline`` (real) or until the connection is lost, whichever comes first."""
        delay = (deadline - datetime.now(UTC)).total_seconds()
        if self._reader is not None and not self._reader.done() and delay > 0:
            await asyncio.wait({self._reader}, timeout=delay)
        return self.lost

    async def come_back(self) -> tuple[datetime, datetime, datetime, datetime]:
        """After the server closed the connection: reconnect with the positions held, as
        connection.js does. The lost connection's end bracket (from the last frame sent) and the
        new one's start bracket."""
        last = self.last_sent or self.clock.now()
        ended = await self.settled()
        await self._stop_reader()
        await asyncio.sleep(0.5)
        opened = await self.open(resume=True)
        return last, ended, *opened

    async def _stop_reader(self) -> None:
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 10)
            if not self._reader.done():
                self._reader.cancel()
        for future in self._pending.values():
            future.cancel()  # a command still waiting ends with the connection (a timed-out one too)
        self._pending.clear()
        self.ws = None

    # --- commands -----------------------------------------------------------------------------------

    async def send(self, frame: dict[str, Any]) -> None:
        if self.ws is None:
            raise ConnectionError("not connected")
        await self.ws.send(json.dumps(frame))
        self.last_sent = self.clock.now()

    async def command(self, type_: str, **fields: Any) -> Any:
        """Send a command and wait for its answer: its ``data``, or CommandRefused."""
        cid = f"r{next(_cids)}"
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[cid] = future
        await self.send({"type": type_, "cid": cid, **fields})
        try:
            return await asyncio.wait_for(future, COMMAND_TIMEOUT_S)
        except asyncio.CancelledError:
            if future.cancelled() and not _current_cancelled():
                raise ConnectionError("connection ended") from None
            raise

    # --- reading ------------------------------------------------------------------------------------

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                self.ledger.frames += 1
                self._frame(json.loads(raw), time.monotonic(), raw)
        except websockets.ConnectionClosed:
            pass
        except Exception as exc:  # a bug in this client must show, not hang the rehearsal
            self.problems.unexpected_errors[f"client: {type(exc).__name__}: {exc}"] += 1
        finally:
            code = ws.close_code
            if code is not None:
                self.problems.closes[code] += 1
                if code == CLOSE_IDLE and not self._leaving:
                    self.problems.idle_closed_while_answering += 1

    def _frame(self, frame: dict[str, Any], received: float, raw: str | bytes = "") -> None:
        kind = frame["type"]
        if kind == "event":
            self._event(frame, received, raw)
        elif kind == "snapshot":
            for channel, position in frame["channels"].items():
                if position is not None:
                    self.positions[channel] = (position["epoch"], position["seq"])
                    self.ledger.epochs.add(position["epoch"])
                    state = frame[channel]
                    self.ledger.snapshot(channel, position["seq"], state)
            self.me = frame["me"]
            self.public = frame["public"]
            self._snapshot.set()
        elif kind == "heartbeat":
            asyncio.get_running_loop().create_task(self._quietly({"type": "ping", "cid": f"p{next(_cids)}"}))
        elif kind == "result":
            future = self._pending.pop(frame["cid"], None)
            if future is not None and not future.done():
                future.set_result(frame.get("data"))
        elif kind == "error":
            future = self._pending.pop(frame.get("cid") or "", None)
            if future is not None and not future.done():
                future.set_exception(CommandRefused(frame["code"], frame["message"]))
            else:
                self.problems.unexpected_errors[f"error frame {frame['code']}"] += 1
        elif kind == "resync":
            self.problems.resyncs[frame["reason"]] += 1
            self.positions.clear()

    def _event(self, frame: dict[str, Any], received: float, raw: str | bytes) -> None:
        channel, seq = frame["channel"], frame["seq"]
        epoch, last = self.positions.get(channel, (frame["epoch"], 0))
        if frame["epoch"] != epoch:
            self.problems.unexpected_errors["epoch changed"] += 1
            return
        if seq <= last:
            self.problems.duplicates += 1
            return
        if seq != last + 1:
            self.problems.gaps += 1
            asyncio.get_running_loop().create_task(self._resume())
            return
        self.positions[channel] = (epoch, seq)
        self.ledger.event(channel, seq, frame["event"], raw)
        if self.on_event is not None:
            self.on_event(channel, {**frame["event"], "_received": received})

    async def _resume(self) -> None:
        channels = {c: {"epoch": e, "seq": s} for c, (e, s) in self.positions.items()}
        channels.setdefault("staff", None)  # type: ignore[arg-type]
        await self._quietly({"type": "resume", "cid": f"s{next(_cids)}", "channels": channels})

    async def _quietly(self, frame: dict[str, Any]) -> None:
        """A frame sent on the side (a ping, a resume): a connection closing meanwhile is no error."""
        with contextlib.suppress(ConnectionError, websockets.ConnectionClosed):
            await self.send(frame)
