"""Writing one encoded frame to many sockets: frame the text once, hand the bytes to each transport.

A server's websocket frames are not masked, so the bytes of a text frame are the same for every
socket. Going through ASGI instead (``await ws.send_text``) costs, per socket, Starlette's state
checks, uvicorn's ``send``, UTF-8 encoding and framing: at 2,000 sockets that is most of the
fan-out time. So the fan-out loop asks each socket for a :class:`DirectWriter` and, when the socket
is open and its transport below the high-water mark, writes the shared frame with one
``transport.write``. Any other socket (a slow one, one closing, or a server this module does not
know) goes through its outbox and ASGI as before.

Writing whole frames beside the server's own writes is safe: every write on the loop is one whole
frame (permessage-deflate is off, and uvicorn sends whole messages), so frames never interleave.
Only uvicorn's ``websockets-sansio`` implementation (its default since 0.35) is recognised, and the
versions of uvicorn and websockets are pinned to the tested ranges: ``tests/test_ws_wire.py`` runs it
against real clients, so an upgrade that changes it fails a test rather than silently slowing the
fan-out. Should the protocol object still surprise us at run time, the caller treats any error of a
direct writer as "not writable" and sends through ASGI (``Hub.write_direct``); and
``PARLEY_DIRECT_FRAMES=0`` turns the direct path off altogether.
"""

from __future__ import annotations

from typing import Any, Protocol

from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from server.protocol import MAX_FRAME_BYTES

SERVER_SEND_KEY = "parley.server_send"
"""Where the outermost middleware (``endpoint.LiveSockets`` in the app, :class:`KeepServerSend` in bare
apps) leaves the server's own ``send`` in a websocket scope."""


def uvicorn_websocket_options() -> dict[str, Any]:
    """How ``parley serve`` runs uvicorn's websockets (tests run the same)."""
    return {
        "ws": "websockets-sansio",  # the one implementation wire.py writes to directly (uvicorn's default)
        "ws_per_message_deflate": False,  # on, it costs 2.5x CPU and 2.4x memory per socket, and frames differ
        "ws_max_size": MAX_FRAME_BYTES,  # a bigger client frame closes that connection with 1009
        # Parley's own heartbeats and idle rule (``Connection.idle``) find dead peers: uvicorn's
        # keepalive pings would add a timer, a ping and a pong per socket every 20 s on top
        "ws_ping_interval": None,
        "ws_ping_timeout": None,
    }


def text_frame(text: str) -> bytes:
    """The bytes of one unmasked, final text frame carrying ``text``."""
    return Frame(Opcode.TEXT, text.encode(), fin=True).serialize(mask=False)


class DirectWriter(Protocol):
    def writable(self) -> bool:
        """Open, not closing, and its transport below the high-water mark (a write will not pile up)."""
        ...

    def write(self, frame: bytes) -> None: ...


class _SansIOWriter:
    """uvicorn's ``websockets-sansio`` implementation (the default since uvicorn 0.35)."""

    def __init__(self, protocol: Any) -> None:
        self.protocol = protocol

    def writable(self) -> bool:
        p = self.protocol
        return bool(
            p.handshake_complete
            and not p.close_sent
            and not p.disconnected
            and p.conn.state is State.OPEN
            and not p.conn.extensions  # compression frames each socket's messages differently
            and p.writable.is_set()
            and not p.transport.is_closing()
        )

    def write(self, frame: bytes) -> None:
        self.protocol.transport.write(frame)


def _writer_for(protocol: object) -> type[_SansIOWriter] | None:
    try:
        from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol  # noqa: PLC0415 - optional: absent before uvicorn 0.35
    except ImportError:  # a uvicorn older than 0.35: everything goes through ASGI
        return None
    return _SansIOWriter if type(protocol) is WebSocketsSansIOProtocol else None


def direct_writer(ws: WebSocket) -> DirectWriter | None:
    """A direct writer for ``ws``, or None when its server is not one this module knows or the app's
    settings turn direct frames off (``PARLEY_DIRECT_FRAMES=0``): then every frame goes through ASGI."""
    settings = getattr(ws.state, "settings", None)  # the app's lifespan state; absent in bare test apps
    if settings is not None and not settings.direct_frames:
        return None
    send = ws.scope.get(SERVER_SEND_KEY)
    protocol = getattr(send, "__self__", None)
    writer = _writer_for(protocol)
    if writer is None or getattr(protocol, "transport", None) is None:
        return None
    return writer(protocol)


def release_handshake(ws: WebSocket) -> None:
    """Let go of the handshake's parsed request and response, which uvicorn's protocol object keeps
    for the life of an accepted socket and never reads again (a few KiB of header objects per
    socket). Only for the implementation :func:`direct_writer` knows, once the socket is accepted."""
    protocol = getattr(ws.scope.get(SERVER_SEND_KEY), "__self__", None)
    if _writer_for(protocol) is not None and getattr(protocol, "handshake_complete", False):
        request = getattr(protocol, "request", None)
        if request is not None:  # websockets' parser keeps the request object itself: empty its headers
            request.headers.clear()
        protocol.request = None  # type: ignore[union-attr]
        protocol.response = None  # type: ignore[union-attr]


class KeepServerSend:
    """Outermost ASGI middleware: leaves the server's ``send`` in websocket scopes, before Starlette
    wraps it, so :func:`direct_writer` can find the server's protocol object."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            scope[SERVER_SEND_KEY] = send
        await self.app(scope, receive, send)
