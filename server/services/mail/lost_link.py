""" "I lost my link": the registration's current join link mailed again to its address.

The request records itself (``lost_link_requests``) and nothing else, the same for every address: the
answer and the work behind it do not depend on whether the address is registered (or revoked). The
workers' scan takes the recorded requests (``server/services/reminders/lost_links.py``): a registered,
not revoked address gets a new copy of its ``link`` delivery. The old link keeps working (the nonce is
not changed; an organiser's "new link" is what revokes it).

Throttle, the sign-in throttle's pattern (``sign_in_audit``): a sliding window over the recorded
requests, per address asked for and per client address, so it holds across server processes. Past a
limit a request is refused (429 with the wait) and not recorded, so the wait never grows while
someone keeps asking.
"""

from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.adapters.db.models import Event, LostLinkRequest
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
) -> None:
    """Record the request (the workers mail a registered address its link). ``TooManyRequests`` past a
    limit; ``UnknownEvent`` for a slug that is none."""
    event_id = await session.scalar(select(Event.id).where(Event.slug == slug))
    if event_id is None:
        raise UnknownEvent(slug)
    email, address = normalise_email(email), address[:64]
    wait = await _wait(session, email=email, address=address, limits=limits, now=now)
    if wait is not None:
        raise TooManyRequests(wait)
    session.add(LostLinkRequest(at=now, event_id=event_id, email=email, address=address))
    await session.flush()
