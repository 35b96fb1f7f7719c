"""Queue the mails about no one morning as ``reminder_deliveries`` rows (async session, HTTP side).

One row per recipient and kind (the partial unique index ``ux_reminder_deliveries_undated``): the
workers' scan and send take them from there exactly as they take reminders (docs/workers.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from server.adapters.db.models import Registration, ReminderDelivery
from server.services.reminders.rules import mail_language

UNDATED = text("day_id IS NULL")
KEY = ["recipient", "event_id", "kind"]


def delivery_row(registration: Registration, languages: Sequence[str], kind: str, now: datetime) -> dict[str, Any]:
    return {
        "recipient": f"reg:{registration.id}",
        "event_id": registration.event_id,
        "day_id": None,
        "kind": kind,
        "registration_id": registration.id,
        "email": registration.email,
        "name": registration.name[:200],
        "language": mail_language(registration.language, languages),
        "timezone": registration.timezone,
        "due_at": now,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "resends": 0,
        "created_at": now,
    }


async def insert_undated(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert-or-ignore on the (recipient, event, kind) key of undated rows: a row exists once."""
    if not rows:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    await session.execute(
        dialect.insert(ReminderDelivery).on_conflict_do_nothing(index_elements=KEY, index_where=UNDATED), rows
    )


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


async def queue_again(
    session: AsyncSession, registration: Registration, languages: Sequence[str], kind: str, now: datetime
) -> int | None:
    """A new copy of the registration's delivery of ``kind``: created, or set back to pending with one
    more resend (a new Message-ID). A copy still pending or being sent is left alone: it is the one
    asked for. None when the row changed meanwhile (someone else re-armed it)."""
    delivery_id = await queue_once(session, registration, languages, kind, now)
    D = ReminderDelivery
    status = await session.scalar(select(D.status).where(D.id == delivery_id))
    if status in ("pending", "sending"):
        return delivery_id
    changed = await session.execute(
        update(D)
        .where(D.id == delivery_id, D.status == status)
        .values(
            status="pending",
            resends=D.resends + 1,
            attempts=0,
            due_at=now,
            next_attempt_at=now,
            enqueued_at=None,
            claim_token=None,
            first_attempt_at=None,
            error=None,
            email=registration.email,
            name=registration.name[:200],
            language=mail_language(registration.language, languages),
            timezone=registration.timezone,
        )
    )
    return delivery_id if changed.rowcount == 1 else None  # type: ignore[attr-defined]
