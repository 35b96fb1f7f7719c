"""Direct frame writes (server/entrypoints/ws/wire.py) against real uvicorn servers and real clients.

The fan-out loop writes one pre-built frame to every socket's transport. These tests run both of
uvicorn's websocket implementations in this process, so a uvicorn or Starlette upgrade that hides
the server's protocol (and silently sends everything the slow way) or changes flow control fails
here; the last test checks that the app as `parley serve` runs it takes the direct path.
"""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
import websockets
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

from server.entrypoints.ws.wire import KeepServerSend, direct_writer, text_frame, uvicorn_websocket_options
from tests.fixtures.live import LiveClient, demo_sign_in_links
from tests.fixtures.parley import Parley, ServerProcess, free_port

pytestmark = pytest.mark.anyio

IMPLEMENTATIONS = ["websockets-sansio", "websockets"]


@contextlib.asynccontextmanager
async def serving(
    app: Any, ws: str = "websockets-sansio", port: int | None = None, **options: Any
) -> AsyncIterator[str]:
    """``app`` under a real uvicorn in this event loop; yields its ws:// base URL."""
    port = port or free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, ws=ws, log_level="warning", **{**uvicorn_websocket_options(), **options}
    )
    server = uvicorn.Server(config)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # uvicorn's legacy implementation warns
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
    try:
        yield f"ws://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


def probe_app(script: Any) -> Starlette:
    """An app whose one websocket route runs ``script(ws, writer)``."""

    async def endpoint(ws: WebSocket) -> None:
        await ws.accept()
        await script(ws, direct_writer(ws))

    return Starlette(routes=[WebSocketRoute("/ws", endpoint)], middleware=[Middleware(KeepServerSend)])


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
async def test_direct_frames_arrive_whole_and_in_order_between_asgi_sends(implementation: str) -> None:
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

    async with serving(probe_app(script), ws=implementation) as base:
        async with websockets.connect(base + "/ws", compression=None) as client:
            received = [await asyncio.wait_for(client.recv(), 5) for _ in range(5)]
        await asyncio.sleep(0.2)
    assert seen["writer"] is not None, f"uvicorn's {implementation} implementation was not recognised"
    assert seen["writable"] is True
    assert received == ["asgi 1", "direct 😀", big, medium, "asgi 2"]
    assert seen["writable after close"] is False


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
async def test_a_reader_that_stops_reading_makes_its_socket_unwritable_then_writable_again(
    implementation: str,
) -> None:
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

    async with serving(probe_app(script), ws=implementation) as base:
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


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
async def test_a_compressed_socket_is_never_written_directly(implementation: str) -> None:
    """Frames differ per socket under permessage-deflate: those sockets go through ASGI."""
    seen: dict[str, Any] = {}

    async def script(ws: WebSocket, writer: Any) -> None:
        await ws.send_text("asgi")
        seen["writable"] = writer.writable()

    async with serving(probe_app(script), ws=implementation, ws_per_message_deflate=True) as base:
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


@dataclass
class InProcessServer:
    url: str


async def test_the_app_as_served_fans_out_by_direct_writes(sqlite_parley: Parley) -> None:
    from server.app import create_app

    first = ServerProcess(sqlite_parley)  # loads the programme and prints the demo sign-in links
    links = demo_sign_in_links(first)
    first.stop()

    port = free_port()
    app = create_app(sqlite_parley.settings(host="127.0.0.1", port=port))
    state: dict[str, Any] = {}
    lifespan = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def keeping_state(a: Any) -> AsyncIterator[Any]:
        async with lifespan(a) as s:
            state.update(s)
            yield s

    app.router.lifespan_context = keeping_state
    async with serving(app, port=port) as base:
        http = base.replace("ws://", "http://")
        async with httpx.AsyncClient(base_url=http, headers={"Origin": http}) as api:
            moderator = (await api.post("/api/auth/link", json={"token": links["moderator"]})).json()["session_token"]
            attendees = []
            for i in range(3):
                body = {"name": f"Delegate {i}", "email": f"d{i}@example.org", "category": "member_state"}
                join = (await api.post("/api/events/idm-2022-1/registrations", json=body)).json()["join_url"]
                joined = await api.post("/api/join", json={"token": join.rsplit("/", 1)[1]})
                attendees.append(joined.json()["session_token"])
        server = InProcessServer(http)
        clients = [LiveClient(server, token) for token in [moderator, *attendees]]  # type: ignore[arg-type]
        for client in clients:
            await client.connect()
        hub = state["live"].hub
        before = hub.direct_writes
        await clients[0].ok("notice.set", text="Session resumes at 10:30")
        for client in clients[1:]:
            event = await client.expect("event")
            assert event["event"]["type"] == "notice.posted", event
        assert hub.direct_writes - before >= 3, (hub.direct_writes, hub.queued_writes)
        for client in clients:
            await client.close()
