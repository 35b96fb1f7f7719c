"""Who is joining, for many joining sockets at once: one read of their sessions and events per batch.

A join storm brings thousands of sockets in a few seconds. Resolving each one's session token,
registration and event with its own queries (three round trips, a pooled connection each) made the
database pool the bottleneck and its waits the join's latency. Here every socket that arrives while
a batch is being read waits for the next one: one query for all their sessions with their
registrations, one for the events they name. Under light load a batch is one socket and costs
what the single lookup did; under a storm the batches grow by themselves, no timer needed.

The rules are those of ``auth.principal_for_token`` and ``access.event_for`` (``access.access_to``):
expired or revoked sessions and revoked registrations are nobody (``auth.principal_for_session``;
a staff session, one of a handful, reads its roles there).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import defer

from server.adapters.db.models import Event, Registration, WebSession
from server.services import access, auth
from server.services.auth import Principal, token_hash


@dataclass
class _Ask:
    token: str | None
    slug: str
    answer: asyncio.Future[access.EventAccess]


class BatchedJoins:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, now: Callable[[], datetime]) -> None:
        self._sessions = sessions
        self._now = now
        self._waiting: list[_Ask] = []
        self._reader: asyncio.Task[None] | None = None
        self.batches = 0
        self.resolved = 0

    async def resolve(self, token: str | None, slug: str, capability: access.Capability) -> access.EventAccess:
        """The event ``slug`` and role for the holder of ``token``, or the ``access`` refusal."""
        assert capability is access.Capability.JOIN_LIVE, "joins only: other callers use access.event_for"
        ask = _Ask(token, slug, asyncio.get_running_loop().create_future())
        self._waiting.append(ask)
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read_batches(), name="join-batches")
        return await ask.answer

    async def _read_batches(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                await self._read(batch)
            except Exception as exc:  # the database cannot answer now: every socket of the batch hears it
                for ask in batch:
                    if not ask.answer.done():
                        ask.answer.set_exception(exc)
            except BaseException:
                for ask in batch:
                    ask.answer.cancel()
                raise

    async def _read(self, batch: list[_Ask]) -> None:
        now = self._now()
        hashes = {token_hash(ask.token) for ask in batch if ask.token}
        slugs = {ask.slug for ask in batch}
        async with self._sessions() as session:
            rows = (
                (
                    await session.execute(
                        select(WebSession, Registration)
                        .outerjoin(Registration, Registration.id == WebSession.registration_id)
                        .where(WebSession.token_hash.in_(hashes))
                    )
                ).all()
                if hashes
                else []
            )
            events = {
                event.slug: event
                for event in (
                    await session.execute(select(Event).where(Event.slug.in_(slugs)).options(defer(Event.source)))
                ).scalars()
            }
            people: dict[str, Principal | None] = {}
            for web, _registration in rows:  # the registration is in the session now: no query for it
                if web.revoked_at is not None or web.expires_at <= now:
                    people[web.token_hash] = None
                else:
                    people[web.token_hash] = await auth.principal_for_session(session, web)
        self.batches += 1
        for ask in batch:
            if ask.answer.done():  # the socket went away while it waited
                continue
            principal = people.get(token_hash(ask.token)) if ask.token else None
            try:
                granted = access.access_to(events.get(ask.slug), principal, ask.slug, access.Capability.JOIN_LIVE)
            except access.AccessError as refused:
                ask.answer.set_exception(refused)
            else:
                ask.answer.set_result(granted)
            self.resolved += 1
