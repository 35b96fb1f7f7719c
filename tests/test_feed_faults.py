"""Nothing lost, nothing silent: faults injected into a real running server (uvicorn in the test's
event loop, real websocket clients, the real bus and database).

- a direct writer that raises (uvicorn's internals not what wire.py expects) sends through ASGI,
  says so once, and every client still gets every event, in order;
- a feed that fails is logged, restarted, and its sockets catch up from the event log;
- a publish lost after its commit reaches every client within one heartbeat, because heartbeats
  carry the committed position.

Each client here follows the event seqs like the browser's connection.js: it applies the next seq,
and on a gap, or a heartbeat ahead of it, sends ``resume`` with its position.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from server.adapters.bus.base import BusUnavailable
from server.entrypoints.ws import hub as hub_module
from server.entrypoints.ws.hub import Hub
from server.entrypoints.ws.wire import _SansIOWriter
from tests.fixtures.live import LiveClient
from tests.fixtures.parley import Parley, migrated_sqlite
from tests.fixtures.served import Served, served_parley
from tests.fixtures.services import PostgresDatabases, pg_url

pytestmark = pytest.mark.anyio

QUIET = {"heartbeat_s": 60.0}  # no heartbeat during the test: only the mechanism under test can help


@pytest.fixture(params=["embedded", "production"])
def any_parley(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Parley]:
    """SQLite with the memory bus, then PostgreSQL with Redis."""
    data_dir = tmp_path / "data"
    if request.param == "embedded":
        yield Parley("sqlite", data_dir, migrated_sqlite(data_dir))
        return
    dbs: PostgresDatabases = request.getfixturevalue("postgres_databases")
    redis_url: str = request.getfixturevalue("redis_url")
    data_dir.mkdir(parents=True)
    yield Parley(
        "postgres",
        data_dir,
        pg_url(dbs.new(), "postgresql+asyncpg"),
        redis_url=redis_url,
        extra_env={"PARLEY_BUS_PREFIX": f"t{uuid.uuid4().hex[:8]}:"},
    )


@dataclass
class Follower:
    """A client that keeps its public position like connection.js does."""

    client: LiveClient
    seq: int = 0
    epoch: str = ""
    applied: list[int] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)
    resumes: int = 0
    arrived: dict[str, float] = field(default_factory=dict)
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    beats: list[dict[str, Any]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        snapshot = await self.client.connect()
        self.seq = snapshot["channels"]["public"]["seq"]
        self.epoch = snapshot["channels"]["public"]["epoch"]
        self.task = asyncio.create_task(self._follow())

    async def _resume(self) -> None:
        self.resumes += 1
        channels = {"public": {"epoch": self.epoch, "seq": self.seq}}
        await self.client.ws.send(json.dumps({"type": "resume", "cid": f"r{self.resumes}", "channels": channels}))

    async def _follow(self) -> None:
        while True:
            frame = await self.client.recv(timeout=120)
            if frame["type"] == "snapshot":  # after a resync
                self.seq = frame["channels"]["public"]["seq"]
            elif frame["type"] == "event" and frame["channel"] == "public":
                if frame["seq"] <= self.seq:
                    self.duplicates.append(frame["seq"])
                elif frame["seq"] > self.seq + 1:
                    await self._resume()
                else:
                    self.seq = frame["seq"]
                    self.applied.append(frame["seq"])
                    if frame["event"]["type"] == "notice.posted":
                        self.notices.append(frame["event"]["text"])
                        self.arrived[frame["event"]["text"]] = time.monotonic()
            elif frame["type"] == "heartbeat":
                self.beats.append(frame)
                if frame["seqs"]["public"] > self.seq:
                    await self._resume()
            elif frame["type"] in ("result", "error") and frame.get("cid"):
                self.answers[frame["cid"]] = frame

    async def ok(self, type_: str, **fields: Any) -> None:
        """Send a command and wait for its result (this follower is the socket's only reader)."""
        cid = await self.client.send(type_, **fields)
        deadline = time.monotonic() + 10
        while cid not in self.answers:
            self._check()
            assert time.monotonic() < deadline, f"no answer to {type_}"
            await asyncio.sleep(0.01)
        assert self.answers[cid]["type"] == "result", self.answers[cid]

    def _check(self) -> None:
        assert self.task is not None
        if self.task.done():
            self.task.result()  # what stopped it

    async def wait_for(self, text: str, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while text not in self.arrived:
            self._check()
            assert time.monotonic() < deadline, f"{text!r} not received; got {self.notices}"
            await asyncio.sleep(0.02)
        return self.arrived[text]

    async def stop(self) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.client.close()


async def followers(served: Served) -> list[Follower]:
    people = [Follower(LiveClient(served, token)) for token in [served.moderator, *served.attendees]]  # type: ignore[arg-type]
    for person in people:
        await person.start()
    return people


def assert_every_event_once_in_order(people: list[Follower], texts: list[str]) -> None:
    for person in people:
        assert person.notices == texts, person.notices
        assert person.duplicates == [], person.duplicates
        assert person.applied == list(range(person.applied[0], person.applied[0] + len(person.applied)))


async def post_notices(
    moderator: Follower, people: list[Follower], count: int, prefix: str = "Notice", timeout: float = 10
) -> list[str]:
    """Post `count` notices and wait until everyone has the last one; use a fresh prefix per batch,
    or the wait is satisfied by an earlier batch's text."""
    texts = [f"{prefix} {i}" for i in range(count)]
    for text in texts:
        await moderator.ok("notice.set", text=text)
    for person in people:
        await person.wait_for(texts[-1], timeout)
    return texts


async def test_a_direct_writer_that_raises_falls_back_to_asgi_with_one_warning(
    sqlite_parley: Parley, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async with served_parley(sqlite_parley, **QUIET) as served:
        people = await followers(served)
        hub = served.runtime.hub
        calls = {"n": 0}
        writable = _SansIOWriter.writable

        def moved_internals(self: _SansIOWriter) -> bool:  # as if an upgrade renamed what it reads
            calls["n"] += 1
            if calls["n"] > 6:
                raise AttributeError("'WebSocketsSansIOProtocol' object has no attribute 'writable'")
            return writable(self)

        monkeypatch.setattr(_SansIOWriter, "writable", moved_internals)
        with caplog.at_level(logging.WARNING, logger="parley.hub"):
            texts = await post_notices(people[0], people, 10)
        assert_every_event_once_in_order(people, texts)
        assert hub.direct_writes >= 4, "some frames went directly before the failure"
        # each socket whose writer raised failed once (one busy at that moment may not have tried)
        assert 0 < hub.direct_failures <= len(people)
        assert hub.direct_failures == sum(conn.direct is None for conn in hub.connections)
        assert hub.feed_restarts == 0
        warnings = [r for r in caplog.records if "writing a frame directly" in r.getMessage()]
        assert len(warnings) == 1, [r.getMessage() for r in caplog.records]
        for person in people:
            await person.stop()


class Boom(RuntimeError):
    pass


@pytest.mark.parametrize("where", ["before any socket", "in the middle of a delivery"])
async def test_a_failing_feed_is_logged_restarted_and_its_sockets_catch_up(
    where: str, sqlite_parley: Parley, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async with served_parley(sqlite_parley, **QUIET) as served:
        people = await followers(served)
        hub = served.runtime.hub
        armed = {"left": 0}
        if where == "before any socket":
            text_frame = hub_module.text_frame

            def failing_frame(text: str) -> bytes:
                if '"notice.posted"' in text and "Notice 3" in text and armed["left"]:
                    armed["left"] -= 1
                    raise Boom("injected")
                return text_frame(text)

            monkeypatch.setattr(hub_module, "text_frame", failing_frame)
        else:
            write_direct = Hub.write_direct
            seen = {"n": 0}

            def failing_write(self: Hub, conn: Any, frame: bytes) -> bool:
                if b"Notice 3" in frame and armed["left"]:
                    seen["n"] += 1
                    if seen["n"] == 2:  # one socket has it, the others not yet
                        armed["left"] -= 1
                        raise Boom("injected")
                return write_direct(self, conn, frame)

            monkeypatch.setattr(Hub, "write_direct", failing_write)
        armed["left"] = 1
        with caplog.at_level(logging.INFO, logger="parley.hub"):
            texts = [f"Notice {i}" for i in range(10)]
            for text in texts:  # the ones after Notice 3 are published while the feed is down
                await people[0].ok("notice.set", text=text)
            for person in people:
                await person.wait_for(texts[-1], 10)
        assert_every_event_once_in_order(people, texts)
        assert hub.feed_restarts == 1
        failed = [r for r in caplog.records if r.levelno == logging.ERROR and "failed" in r.getMessage()]
        assert failed and failed[0].exc_info and failed[0].exc_info[0] is Boom
        assert any("restarting" in r.getMessage() for r in caplog.records)
        assert sum(p.resumes for p in people) == 0, "the server caught its sockets up, not the clients"
        # and it keeps working afterwards
        more = await post_notices(people[0], people, 2, prefix="After")
        assert_every_event_once_in_order(people, texts + more)
        for person in people:
            await person.stop()


async def test_a_lost_publish_reaches_every_client_within_one_heartbeat(
    any_parley: Parley, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    heartbeat_s = 1.0
    async with served_parley(any_parley, heartbeat_s=heartbeat_s) as served:
        people = await followers(served)
        before = await post_notices(people[0], people, 2)
        bus = served.runtime.bus
        publish = bus.publish
        lost: list[str] = []

        async def publish_once_lost(name: str, text: str) -> None:
            if not lost and name.endswith(":public") and "Lost notice" in text:
                lost.append(text)
                raise BusUnavailable("Redis went away for a moment")
            await publish(name, text)

        monkeypatch.setattr(bus, "publish", publish_once_lost)
        with caplog.at_level(logging.WARNING):
            await people[0].ok("notice.set", text="Lost notice")
            committed = time.monotonic()
            assert lost, "the publish was not intercepted"
            # the channel stays quiet: only the heartbeat can tell anyone
            for person in people:
                arrived = await person.wait_for("Lost notice", heartbeat_s * 3)
                assert arrived - committed < heartbeat_s + 0.5, f"{arrived - committed:.2f} s"
        assert any("not published now" in r.getMessage() for r in caplog.records)
        assert_every_event_once_in_order(people, [*before, "Lost notice"])
        # the heartbeat after it reports the committed seq, which every client has
        beats = len(people[1].beats)
        await asyncio.sleep(heartbeat_s * 1.5)
        assert people[1].beats[beats:], "no heartbeat"
        assert people[1].beats[-1]["seqs"]["public"] == people[1].seq == people[1].applied[-1]
        for person in people:
            await person.stop()
