"""Queue the mails about no one morning as ``reminder_deliveries`` rows (async session, HTTP side).

One row per recipient and kind (the partial unique index ``ux_reminder_deliveries_undated``): the
workers' scan and send take them from there exactly as they take reminders (docs/workers.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.adapters.db.models import Registration, ReminderDelivery
from server.services.reminders.notices import delivery_row, undated_insert


async def insert_undated(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert-or-ignore on the (recipient, event, kind) key of undated rows: a row exists once."""
    if rows:
        await session.execute(undated_insert(session.get_bind().dialect.name, rows))


async def undated_id(session: AsyncSession, event_id: int, registration_id: int, kind: str) -> int | None:
    D = ReminderDelivery
    return await session.scalar(
        select(D.id).where(
            D.recipient == f"reg:{registration_id}", D.event_id == event_id, D.kind == kind, D.day_id.is_(None)
        )
    )


async def queue_once(
    session: AsyncSession, registration: Registration, languages: Sequence[str], kind: str, now: datetime
) -> int:
    """The registration's one delivery of ``kind`` (created now unless it exists): its id."""
    await insert_undated(session, [delivery_row(registration, languages, kind, now)])
    found = await undated_id(session, registration.event_id, registration.id, kind)
    assert found is not None
    return found
