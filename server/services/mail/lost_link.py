""" "I lost my link": the registration's current join link mailed again to its address.

The answer is the same whether or not the address is registered (or revoked): the request is
recorded and counted alike, and the lookup runs alike; only a registered, not revoked address gets a
delivery (kind ``link``), sent by the workers. The old link keeps working (the nonce is not changed;
an organiser's "new link" is what revokes it).

Throttle, the sign-in throttle's pattern (``sign_in_audit``): a sliding window over the recorded
requests, per address asked for and per client address, so it holds across server processes. Past a
limit a request is refused (429 with the wait) before anything is looked up, and not recorded, so the
wait never grows while someone keeps asking.
"""

from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.adapters.db.models import Event, LostLinkRequest, Registration
from server.services.mail.queue import queue_again
from server.services.reminders.notices import LINK
from server.services.sign_in_audit import Limits, normalise_email


class UnknownEvent(LookupError):
    pass


class TooManyRequests(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many link requests: try again in {retry_after} s")
        self.retry_after = retry_after


async def _wait(session: AsyncSession, *, email: str, address: str, limits: Limits, now: datetime) -> int | None:
    R = LostLinkRequest
    waits = []
    for column, value, limit in ((R.email, email, limits.per_account), (R.address, address, limits.per_address)):
        recent = list(
            await session.scalars(
                select(R.at).where(column == value, R.at > now - limits.window).order_by(R.at.desc()).limit(limit)
            )
        )
        if len(recent) >= limit:
            waits.append((recent[limit - 1] + limits.window - now).total_seconds())
    return max(1, math.ceil(max(waits))) if waits else None


async def request_link(
    session: AsyncSession, slug: str, email: str, *, address: str, limits: Limits, now: datetime
) -> int | None:
    """Record the request and queue the link when the address is registered: the delivery id to
    enqueue, or None. ``TooManyRequests`` past a limit; ``UnknownEvent`` for a slug that is none."""
    event = await session.scalar(select(Event).where(Event.slug == slug))
    if event is None:
        raise UnknownEvent(slug)
    email, address = normalise_email(email), address[:64]
    wait = await _wait(session, email=email, address=address, limits=limits, now=now)
    if wait is not None:
        raise TooManyRequests(wait)
    session.add(LostLinkRequest(at=now, event_id=event.id, email=email, address=address))
    registration = await session.scalar(
        select(Registration).where(Registration.event_id == event.id, func.lower(Registration.email) == email)
    )
    if registration is None or registration.revoked_at is not None:
        await session.flush()
        return None
    return await queue_again(session, registration, event.languages, LINK, now)
