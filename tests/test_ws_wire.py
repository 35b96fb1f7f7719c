"""Direct frame writes (server/entrypoints/ws/wire.py) against real uvicorn servers and real clients.

The fan-out loop writes one pre-built frame to every socket's transport. These tests run uvicorn's
``websockets-sansio`` implementation (the one ``parley serve`` uses) in this process, so a uvicorn or
Starlette upgrade that hides the server's protocol (and silently sends everything the slow way) or
changes flow control fails here; the last tests check that the app as `parley serve` runs it takes
the direct path, and that ``PARLEY_DIRECT_FRAMES=0`` turns it off.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import websockets
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

from config.settings import Settings
from server.entrypoints.ws.wire import KeepServerSend, direct_writer, text_frame
from tests.fixtures.live import LiveClient
from tests.fixtures.parley import Parley, run_parley
from tests.fixtures.served import served_parley, serving

pytestmark = pytest.mark.anyio


def probe_app(script: Any) -> Starlette:
    """An app whose one websocket route runs ``script(ws, writer)``."""

    async def endpoint(ws: WebSocket) -> None:
        await ws.accept()
        await script(ws, direct_writer(ws))

    return Starlette(routes=[WebSocketRoute("/ws", endpoint)], middleware=[Middleware(KeepServerSend)])


async def test_direct_frames_arrive_whole_and_in_order_between_asgi_sends() -> None:
    seen: dict[str, Any] = {}
    big = "x" * 70_000  # a 64-bit length
    medium = "é" * 300  # a 16-bit length, multi-byte text

    async def script(ws: WebSocket, writer: Any) -> None:
        seen["writer"] = writer
        await ws.send_text("asgi 1")
        seen["writable"] = writer.writable()
        writer.write(text_frame("direct 😀"))
        writer.write(text_frame(big))
        writer.write(text_frame(medium))
        await ws.send_text("asgi 2")
        await ws.receive()  # the client's close
        seen["writable after close"] = writer.writable()

    async with serving(probe_app(script)) as base:
        async with websockets.connect(base + "/ws", compression=None) as client:
            received = [await asyncio.wait_for(client.recv(), 5) for _ in range(5)]
        await asyncio.sleep(0.2)
    assert seen["writer"] is not None, "uvicorn's websockets-sansio implementation was not recognised"
    assert seen["writable"] is True
    assert received == ["asgi 1", "direct 😀", big, medium, "asgi 2"]
    assert seen["writable after close"] is False


async def test_a_reader_that_stops_reading_makes_its_socket_unwritable_then_writable_again() -> None:
    frame = text_frame("y" * 65_000)
    seen: dict[str, Any] = {}
    drained = asyncio.Event()

    async def script(ws: WebSocket, writer: Any) -> None:
        assert writer is not None
        for _ in range(100):  # the handshake's response is not always written when accept() returns
            if writer.writable():
                break
            await asyncio.sleep(0.01)
        for written in range(1, 2_000):  # ~130 MB at most; the kernel buffers hold a few MB
            writer.write(frame)
            await asyncio.sleep(0)
            if not writer.writable():
                seen["frames before full"] = written
                break
        await drained.wait()
        for _ in range(100):
            if writer.writable():
                seen["writable again"] = True
                break
            await asyncio.sleep(0.05)
        await ws.send_text("end")
        await ws.receive()

    async with serving(probe_app(script)) as base:
        async with websockets.connect(base + "/ws", compression=None, max_queue=1, max_size=None) as client:
            await asyncio.sleep(0.5)  # not reading: the client stops the TCP stream, the server's buffer grows
            assert "frames before full" in seen, "the transport never reported its high-water mark"
            count = 0
            while (await asyncio.wait_for(client.recv(), 10)) != "end":
                count += 1
                if count == seen["frames before full"]:
                    drained.set()
    assert seen.get("writable again"), "the transport did not resume once the client read"
    assert count == seen["frames before full"]


async def test_a_compressed_socket_is_never_written_directly() -> None:
    """Frames differ per socket under permessage-deflate: those sockets go through ASGI."""
    seen: dict[str, Any] = {}

    async def script(ws: WebSocket, writer: Any) -> None:
        await ws.send_text("asgi")
        seen["writable"] = writer.writable()

    async with serving(probe_app(script), ws_per_message_deflate=True) as base:
        async with websockets.connect(base + "/ws", compression="deflate") as client:
            assert await asyncio.wait_for(client.recv(), 5) == "asgi"
    assert seen["writable"] is False


def test_an_unknown_server_gets_no_direct_writer() -> None:
    seen: dict[str, Any] = {}

    async def script(ws: WebSocket, writer: Any) -> None:
        seen["writer"] = writer
        await ws.send_text("asgi")

    with TestClient(probe_app(script)) as client, client.websocket_connect("/ws") as ws:
        assert ws.receive_text() == "asgi"
    assert seen["writer"] is None


async def fan_out_one_notice(parley: Parley, **settings: Any) -> tuple[int, int]:
    """Serve the app as `parley serve` does, post one notice to four clients; the hub's
    (direct, queued) writes for it."""
    async with served_parley(parley, **settings) as served:
        clients = [LiveClient(served, token) for token in [served.moderator, *served.attendees]]  # type: ignore[arg-type]
        for client in clients:
            await client.connect()
        hub = served.runtime.hub
        direct, queued = hub.direct_writes, hub.queued_writes
        await clients[0].ok("notice.set", text="Session resumes at 10:30")
        for client in clients[1:]:
            event = await client.expect("event")
            assert event["event"]["type"] == "notice.posted", event
        for client in clients:
            await client.close()
        return hub.direct_writes - direct, hub.queued_writes - queued


async def test_the_app_as_served_fans_out_by_direct_writes(sqlite_parley: Parley) -> None:
    direct, queued = await fan_out_one_notice(sqlite_parley)
    assert direct >= 3, (direct, queued)


async def test_direct_frames_off_sends_every_frame_through_asgi(sqlite_parley: Parley) -> None:
    direct, queued = await fan_out_one_notice(sqlite_parley, direct_frames=False)
    assert direct == 0 and queued >= 4, (direct, queued)


def test_the_direct_frames_setting_is_read_and_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_DIRECT_FRAMES", "0")
    assert Settings(_env_file=None).direct_frames is False  # type: ignore[call-arg]
    monkeypatch.delenv("PARLEY_DIRECT_FRAMES")
    assert Settings(_env_file=None).direct_frames is True  # type: ignore[call-arg]
    listed = run_parley("settings", env={"PATH": "/usr/bin:/bin", "PARLEY_DATA_DIR": "/tmp"})
    assert listed.returncode == 0, listed.stderr
    assert "PARLEY_DIRECT_FRAMES=True" in listed.stdout
