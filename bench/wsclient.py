"""A light websocket client for thousands of connections per process, the same for every server measured.

One bare ``asyncio.Protocol`` per connection on uvloop. The handshake goes through websockets'
sans-I/O ``ClientProtocol`` (so headers such as ``Authorization`` and ``Origin`` are real); after it,
a minimal parser reads the server's unmasked frames (2/4/10-byte headers) and timestamps them once
per ``data_received``, before parsing. It answers pings with pongs and the protocol's heartbeats with
a ``ping`` command, as a browser does, and reconnects with backoff when told to try again (1013).

It costs a few KiB and a few microseconds a frame: at 10,000 connections the client processes are
not what limits the server they measure (``websockets.connect`` per client was).
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import struct
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

SMALL_RECEIVE_BUFFER = 8192
INTERNET_SEGMENT = 1460
HEARTBEAT = b'{"type":"heartbeat"'
SNAPSHOT = b'{"type":"snapshot"'
RESULT = b'{"type":"result","cid":"'
ERROR = b'{"type":"error","cid":"'
PING_COMMAND = Frame(Opcode.TEXT, b'{"type":"ping","cid":"hb"}').serialize(mask=True)
CLOSE_TRY_AGAIN = 1013
CLOSE_IDLE = 4408


@dataclass
class Tally:
    """What the connections of one process saw."""

    marker: bytes
    joined: int = 0
    join_times: list[float] = field(default_factory=list)  # when each joined (its snapshot or hello came)
    try_again: int = 0  # 1013s absorbed by backoff
    failed: int = 0  # handshakes refused or cut (retried too)
    heartbeats: int = 0
    closes: dict[int, int] = field(default_factory=dict)  # close codes the server sent after joining
    rounds: dict[int, list[float]] = field(default_factory=dict)  # round -> arrival times
    clients: dict[int, LightClient] = field(default_factory=dict)  # joined connections by their index
    answers: dict[str, tuple[float, str, object]] = field(default_factory=dict)  # cid -> (when, code, data)

    def close_code(self, code: int) -> None:
        self.closes[code] = self.closes.get(code, 0) + 1


class LightClient(asyncio.Protocol):
    def __init__(
        self,
        url: str,
        headers: dict[str, str],
        tally: Tally,
        done: asyncio.Future[int | None],
        joined: asyncio.Future[None],
    ) -> None:
        self.tally = tally
        self.done = done
        self.joined_future = joined
        self.handshake = ClientProtocol(parse_uri(url), max_size=2**24)
        request = self.handshake.connect()
        for name, value in headers.items():
            request.headers[name] = value
        self.request = request
        self.transport: asyncio.Transport | None = None
        self.open = False
        self.joined = False
        self.buffer = bytearray()
        self.partial = bytearray()
        self.close_received: int | None = None

    # --- transport --------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.handshake.send_request(self.request)
        for data in self.handshake.data_to_send():
            if data:
                self.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(self.close_received)

    def data_received(self, data: bytes) -> None:
        now = time.time()
        if not self.open:
            self._handshake(data)
            return
        self.buffer += data
        self._frames(now)

    # --- handshake --------------------------------------------------------------------------------

    def _handshake(self, data: bytes) -> None:
        """Only the HTTP response goes to the sans-I/O protocol (it checks the accept key); the bytes
        after it are already frames, for the parser below."""
        self.buffer += data
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return
        head, rest = bytes(self.buffer[: head_end + 4]), bytes(self.buffer[head_end + 4 :])
        self.buffer.clear()
        self.handshake.receive_data(head)
        for event in self.handshake.events_received():
            if isinstance(event, Response) and event.status_code == 101 and self.handshake.handshake_exc is None:
                self.open = True
        if not self.open:
            self._abort()
            return
        self.buffer += rest
        self._frames(time.time())

    def _abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    # --- frames -----------------------------------------------------------------------------------

    def _frames(self, now: float) -> None:
        buf = self.buffer
        at = 0
        end = len(buf)
        while end - at >= 2:
            b0, b1 = buf[at], buf[at + 1]
            length = b1 & 0x7F
            head = 2
            if length == 126:
                if end - at < 4:
                    break
                (length,) = struct.unpack_from("!H", buf, at + 2)
                head = 4
            elif length == 127:
                if end - at < 10:
                    break
                (length,) = struct.unpack_from("!Q", buf, at + 2)
                head = 10
            if end - at < head + length:
                break
            payload = bytes(buf[at + head : at + head + length])
            at += head + length
            opcode = b0 & 0x0F
            if not b0 & 0x80:  # a fragment: kept until the final one
                self.partial += payload
                continue
            if opcode == 0 and self.partial:
                payload = bytes(self.partial) + payload
                self.partial.clear()
            self._message(Opcode(opcode) if opcode else Opcode.TEXT, payload, now)
        del buf[:at]

    def _message(self, opcode: Opcode, payload: bytes, now: float) -> None:
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            self._text(payload, now)
        elif opcode is Opcode.PING:
            self._write(Frame(Opcode.PONG, payload).serialize(mask=True))
        elif opcode is Opcode.CLOSE:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            self.close_received = code
            if self.joined:
                self.tally.close_code(code)
            self._write(Frame(Opcode.CLOSE, payload[:2]).serialize(mask=True))
            if self.transport is not None:
                self.transport.close()

    def send(self, frame: dict[str, object]) -> bool:
        """Send one command frame; False when the connection is gone."""
        if self.transport is None or self.transport.is_closing():
            return False
        self.transport.write(Frame(Opcode.TEXT, json.dumps(frame).encode()).serialize(mask=True))
        return True

    def stop_reading(self) -> None:
        """A slow reader: the server's frames pile up in the socket buffers, then in the server."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def _answer(self, payload: bytes, now: float) -> None:
        if payload.startswith(b'{"type":"result","cid":"hb"'):
            return
        message = json.loads(payload)
        cid = message.get("cid")
        if cid is not None:
            code = "ok" if message["type"] == "result" else str(message.get("code"))
            self.tally.answers[cid] = (now, code, message.get("data"))

    def _text(self, payload: bytes, now: float) -> None:
        if not self.joined:
            if payload.startswith(SNAPSHOT) or payload == b"hello":
                self.joined = True
                self.tally.joined += 1
                self.tally.join_times.append(now)
                self.joined_future.set_result(None)
            return
        if payload.startswith(HEARTBEAT):
            self.tally.heartbeats += 1
            self._write(PING_COMMAND)
            return
        if payload.startswith(SNAPSHOT):
            return
        if payload.startswith(RESULT) or payload.startswith(ERROR):
            self._answer(payload, now)
            return
        at = payload.find(self.tally.marker)
        if at >= 0:
            start = at + len(self.tally.marker)
            self.tally.rounds.setdefault(int(payload[start : start + 6]), []).append(now)

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)


async def connect(
    url: str,
    headers: dict[str, str],
    tally: Tally,
    gate: asyncio.Semaphore,
    index: int = -1,
    *,
    small_buffer: bool = False,
) -> int | None:
    """Join as a browser would, retrying a 1013 or a refused handshake after a random backoff;
    returns the close code the server sent after the join (None: the connection just ended).
    ``small_buffer``: a receive buffer of a few KiB and Internet-sized segments from the start (a
    phone on a poor link), so that once it stops reading the server's frames pile up in the server,
    not in the kernel's buffers (over a megabyte per socket on loopback)."""
    loop = asyncio.get_running_loop()
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    while True:
        done: asyncio.Future[int | None] = loop.create_future()
        joined: asyncio.Future[None] = loop.create_future()
        client: LightClient | None = None
        async with gate:  # a bounded number of handshakes in flight
            try:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                if small_buffer:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_RECEIVE_BUFFER)
                    # an Internet-sized segment: on loopback (64 KiB segments) the server's kernel
                    # sizes its send buffer from the segment size, over a megabyte per socket
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, INTERNET_SEGMENT)
                sock.setblocking(False)
                try:
                    await loop.sock_connect(sock, (host, port))
                except OSError:
                    sock.close()
                    raise
                _, client = await loop.create_connection(
                    lambda done=done, joined=joined: LightClient(url, headers, tally, done, joined), sock=sock
                )
                await asyncio.wait({done, joined}, return_when=asyncio.FIRST_COMPLETED)
            except OSError:
                pass
        if client is not None and client.joined:
            tally.clients[index] = client
            return await done
        if done.done() and done.result() == CLOSE_TRY_AGAIN:
            tally.try_again += 1
        else:
            tally.failed += 1
            if client is not None and client.transport is not None:
                client.transport.abort()
        await asyncio.sleep(random.uniform(0.5, 2.0))
