"""A small real SMTP server that keeps every message it accepts, with the virtual instant it came.

The workers send reminders to it over TCP with their ordinary SMTP client, as they would to a mail
relay; it speaks just enough of RFC 5321 for that (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT).
A rehearsal given ``PARLEY_SMTP_HOST`` uses that server instead and checks the outbox it cannot see
less strictly (see ``checks.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes
from email.message import Message


@dataclass
class Received:
    at: datetime  # virtual instant of acceptance
    recipients: list[str]
    message: Message


@dataclass
class SmtpSink:
    now: Callable[[], datetime]
    received: list[Received] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None

    async def start(self, host: str = "127.0.0.1") -> None:
        self._server = await asyncio.start_server(self._session, host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        recipients: list[str] = []

        async def reply(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()

        try:
            await reply("220 parley-rehearsal ESMTP")
            while line := await reader.readline():
                verb = line[:4].decode("ascii", "replace").upper()
                if verb == "EHLO":
                    await reply("250-parley-rehearsal")
                    await reply("250-8BITMIME")
                    await reply("250 SMTPUTF8")
                elif verb == "HELO":
                    await reply("250 parley-rehearsal")
                elif verb == "MAIL":
                    recipients = []
                    await reply("250 OK")
                elif verb == "RCPT":
                    address = line.decode("utf-8", "replace").partition(":")[2].strip().split(" ")[0]
                    recipients.append(address.strip("<>").lower())
                    await reply("250 OK")
                elif verb == "DATA":
                    await reply("354 end with <CRLF>.<CRLF>")
                    chunks = []
                    while (chunk := await reader.readline()) not in (b".\r\n", b".\n", b""):
                        chunks.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                    self.received.append(Received(self.now(), recipients, message_from_bytes(b"".join(chunks))))
                    recipients = []
                    await reply("250 OK queued")
                elif verb == "QUIT":
                    await reply("221 bye")
                    break
                elif verb in ("RSET", "NOOP"):
                    recipients = [] if verb == "RSET" else recipients
                    await reply("250 OK")
                else:
                    await reply("502 not implemented")
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
