"""The live websocket: ``/ws/events/{slug}``.

Connect (session cookie, ``Authorization: Bearer`` or ``?token=``; the ``Origin`` must be allowed),
receive a snapshot, or, with ``?epoch=E&public=N[&staff=M]``, exactly the events missed since.
Then send commands (``docs/protocol.md``); every reply is a ``result`` or a typed ``error``.
"""

from __future__ import annotations

import contextlib
import logging
import time

from pydantic import ValidationError
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.routing import Match, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from server.adapters import metrics
from server.core.speaking_order import known_category
from server.core.state import Actor
from server.entrypoints.http.auth import session_token
from server.entrypoints.ws.connection import Connection
from server.entrypoints.ws.runtime import LiveRuntime
from server.entrypoints.ws.wire import SERVER_SEND_KEY, direct_writer, release_handshake
from server.protocol import (
    CHANNELS_BY_ROLE,
    ChannelPosition,
    ChannelPositions,
    ProtocolError,
    encode_frame,
    parse_command,
)
from server.protocol.frames import ErrorFrame, ResultFrame
from server.services import access

log = logging.getLogger("parley.ws")

CLOSE_POLICY = 1008
CLOSE_TRY_AGAIN = 1013  # RFC 6455 "Try Again Later": the browser reconnects with its backoff
OVERLOADED = (TimeoutError, SQLAlchemyTimeoutError, OperationalError)
"""What a join storm or a database outage raises while a socket joins: the socket is told to come
back later (1013) instead of failing with an error."""
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
REFUSALS: dict[type[access.AccessError], tuple[int, str]] = {
    access.NotSignedIn: (CLOSE_POLICY, "sign in first"),
    access.EventNotFound: (CLOSE_NOT_FOUND, "no such event"),
    access.AccessForbidden: (CLOSE_FORBIDDEN, "no role in this event"),
}
"""How the access check's refusals close a socket (before it is accepted, so browsers see the
handshake refused; the codes are what the frontend's connection.js tells people)."""


def positions_from_query(ws: WebSocket) -> ChannelPositions | None:
    q = ws.query_params
    if "epoch" not in q or "public" not in q:
        return None
    try:
        staff = ChannelPosition(epoch=q["epoch"], seq=int(q["staff"])) if "staff" in q else None
        return ChannelPositions(public=ChannelPosition(epoch=q["epoch"], seq=int(q["public"])), staff=staff)
    except (ValueError, ValidationError):
        return None


async def live_socket(ws: WebSocket) -> None:
    runtime: LiveRuntime = ws.state.live
    settings = ws.state.settings
    origin = ws.headers.get("origin")
    if origin not in settings.origins:
        await ws.close(CLOSE_POLICY, "origin not allowed")
        return
    token = session_token(ws) or ws.query_params.get("token")
    try:
        granted = await runtime.joins.resolve(token, ws.path_params["slug"], access.Capability.JOIN_LIVE)
    except access.AccessError as refused:
        code, reason = REFUSALS[type(refused)]
        await ws.close(code, reason)
        return
    except OVERLOADED as exc:
        await ws.accept()
        await try_again_later(ws, exc)
        return
    principal, event_id, role = granted.principal, granted.event.id, granted.role

    await ws.accept()
    release_handshake(ws)
    accepted = time.perf_counter()
    joined_at = runtime.clock.now()  # the presence starts here and its last_seen too: never before its start
    conn = Connection(
        ws=ws,
        principal=principal,
        actor=Actor(
            user_id=principal.id,
            role=role,
            display_name=principal.name,
            organisation=principal.organisation or None,
            kind=principal.kind,
            category=known_category(principal.category),
        ),
        event_id=event_id,
        channels=CHANNELS_BY_ROLE[role],
        last_seen=joined_at,
        direct=direct_writer(ws),
        writer=runtime.writer,
    )
    attendee = principal.kind == "attendee"
    try:
        if attendee:
            await runtime.attendance.open(
                event_id=event_id, registration_id=principal.id, connection_id=conn.id, at=joined_at
            )
        await runtime.hub.attach(conn)
        await runtime.catch_up(conn, positions_from_query(ws))
    except OVERLOADED as exc:
        await try_again_later(ws, exc)
    except WebSocketDisconnect:
        pass
    else:
        metrics.JOIN_SECONDS.observe(time.perf_counter() - accepted)
        metrics.JOINS.inc()
        with contextlib.suppress(WebSocketDisconnect):
            await read_commands(runtime, conn)
    finally:
        # the end is when the socket ended, before the awaits below (seconds, with thousands leaving)
        ended = runtime.clock.now()
        timed_out = conn.id in runtime.timed_out
        runtime.timed_out.discard(conn.id)
        await runtime.hub.detach(conn)
        await conn.stop_writer()
        if attendee:
            # a connection that stopped answering ends at its last heartbeat, not at discovery
            end = conn.last_seen if timed_out and conn.last_seen else ended
            try:
                await runtime.attendance.close(conn.id, at=end)
            except OVERLOADED as exc:  # its close waits for the next flush (or the sweep, at its last_seen)
                log.warning("presence of %s not closed now (%s): the next flush will", conn.id, type(exc).__name__)


async def try_again_later(ws: WebSocket, exc: BaseException) -> None:
    """Close an accepted socket that cannot join now with 1013; its browser reconnects with backoff."""
    log.warning("a socket could not join now (%s): told to try again", type(exc).__name__)
    metrics.TRY_AGAIN_CLOSES.inc()
    with contextlib.suppress(Exception):  # it may be gone already
        await ws.close(CLOSE_TRY_AGAIN, "server busy, try again")


def error(cid: str | None, code: str, message: str) -> str:
    return encode_frame(ErrorFrame(cid=cid, code=code, message=message))


async def read_commands(runtime: LiveRuntime, conn: Connection) -> None:
    ws = conn.ws
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        conn.heard(runtime.clock.now())
        if not conn.limiter.take():
            await ws.close(CLOSE_POLICY, "rate limit exceeded")
            return
        raw = message.get("text")
        if raw is None:
            raw = message.get("bytes") or b""
        try:
            command = parse_command(raw)
        except ProtocolError as exc:
            conn.reply(error(exc.cid, exc.code, exc.message))
            continue
        if command.type == "ping":
            conn.reply(encode_frame(ResultFrame(cid=command.cid)))
            continue
        if command.type == "resume":
            await runtime.catch_up(conn, command.channels)
            conn.reply(encode_frame(ResultFrame(cid=command.cid)))
            continue
        conn.answering = True  # its heartbeat answers wait unread meanwhile: not idle
        try:
            reply = await runtime.live.execute(conn.event_id, command, actor=conn.actor, actor_key=conn.actor_key)
        except Exception:  # never take the connection down with a server fault
            log.exception("command %s failed", command.type)
            conn.reply(error(command.cid, "internal", "the server could not apply this command; try again"))
            continue
        finally:
            conn.answered(runtime.clock.now())
        conn.reply(encode_frame(reply))


LIVE_ROUTE = WebSocketRoute("/ws/events/{slug}", live_socket)
routes = [LIVE_ROUTE]


class LiveSockets:
    """Outermost ASGI middleware: the live websocket goes straight to :func:`live_socket`.

    Every layer between the server and the endpoint costs each socket for as long as it is open:
    a coroutine frame per middleware, Starlette's exception-handling closures around ``send``, the
    router's matching against every route. At 10,000 sockets that was about 5 KiB and a good part of
    a join's CPU per socket, for layers that do nothing to a websocket (the security headers and the
    same-origin rule are for HTTP; ``live_socket`` checks the Origin itself and handles its own
    errors). So a websocket scope whose path is the live route's, matched by that very route, is
    served here; any other (another websocket route, a path with a control character, which the
    full stack refuses) goes through the full stack unchanged. Every websocket scope also keeps the
    server's own ``send`` for :func:`~server.entrypoints.ws.wire.direct_writer`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            scope[SERVER_SEND_KEY] = send
            path: str = scope["path"]
            if path.isascii() and path.isprintable():
                match, child_scope = LIVE_ROUTE.matches(scope)
                if match is Match.FULL:
                    scope.update(child_scope)
                    await live_socket(WebSocket(scope, receive=receive, send=send))
                    return
        await self.app(scope, receive, send)
