"""What the server reads (async): a certificate by its code, an attendee's own, an event's batches.
The server never issues certificates: the worker does (``service.issue``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.adapters.db.models import Certificate, CertificateBatch
from server.services.certificates.codes import normalise
from server.services.certificates.model import EVENT_SCOPE, Printed
from server.services.certificates.service import printed


async def by_code(session: AsyncSession, text: str) -> Printed | None:
    """The certificate a typed code names; None for an unknown or malformed one alike."""
    code = normalise(text)
    if code is None:
        return None
    row = (await session.execute(select(Certificate).where(Certificate.code == code))).scalar_one_or_none()
    return printed(row) if row is not None else None


def _order(p: Printed) -> tuple[bool, str]:
    return (p.scope == EVENT_SCOPE, p.scope)


async def own(session: AsyncSession, event_id: int, registration_id: int) -> list[Printed]:
    """The attendee's certificates of the event: mornings in order, then the whole event."""
    rows = await session.execute(
        select(Certificate).where(Certificate.event_id == event_id, Certificate.registration_id == registration_id)
    )
    return sorted((printed(row) for row in rows.scalars()), key=_order)


@dataclass(frozen=True)
class Batch:
    scope: str
    issued_at: datetime
    count: int
    threshold: float


async def batches(session: AsyncSession, event_id: int) -> list[Batch]:
    rows = await session.execute(select(CertificateBatch).where(CertificateBatch.event_id == event_id))
    found = [Batch(b.scope, b.issued_at, b.count, b.threshold) for b in rows.scalars()]
    return sorted(found, key=lambda b: (b.scope == EVENT_SCOPE, b.scope))
