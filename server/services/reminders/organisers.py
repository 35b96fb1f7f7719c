"""What organisers see and do (async session, HTTP): counts per reminder, a resend, the schedule."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.adapters.db.models import Day, Event, Registration, ReminderDelivery, ReminderSchedule
from server.services.reminders.rules import CLAIM_LEASE, Schedule, mail_language, rule_of


class ReminderNotFound(LookupError):
    pass


class ReminderConflict(Exception):
    pass


async def event_schedule(session: AsyncSession, event_id: int) -> Schedule:
    row = await session.get(ReminderSchedule, event_id)
    return Schedule.from_offsets(row.offsets if row else None)


async def set_schedule(session: AsyncSession, event_id: int, schedule: Schedule) -> None:
    row = await session.get(ReminderSchedule, event_id)
    if row is None:
        session.add(ReminderSchedule(event_id=event_id, offsets=schedule.offsets(), source="organiser"))
    else:
        row.offsets, row.source = schedule.offsets(), "organiser"
    await session.flush()


async def overview(session: AsyncSession, event: Event) -> list[dict[str, Any]]:
    """Per morning and reminder: when it is due, and how many were due, sent, failed, pending, skipped."""
    schedule = await event_schedule(session, event.id)
    days = (await session.scalars(select(Day).where(Day.event_id == event.id).order_by(Day.date))).all()
    D = ReminderDelivery
    counts: dict[tuple[int | None, str], dict[str, int]] = {}
    for day_id, kind, status, n in await session.execute(
        select(D.day_id, D.kind, D.status, func.count())
        .where(D.event_id == event.id, D.day_id.is_not(None))  # undated ones: server/services/mail
        .group_by(D.day_id, D.kind, D.status)
    ):
        counts.setdefault((day_id, kind), {})[status] = n
    zone = ZoneInfo(event.timezone)
    rows = []
    for day in days:
        kinds = [r.kind for r in schedule.rules()]
        kinds += sorted(k for (d, k) in counts if d == day.id and k not in kinds)  # from an earlier schedule
        for kind in kinds:
            rule = schedule.rule(kind) or rule_of(kind)
            c = counts.get((day.id, kind), {})
            rows.append(
                {
                    "day": day.date.isoformat(),
                    "kind": kind,
                    "audience": rule.audience,
                    "due_at": rule.due_at(day.starts_at).astimezone(zone).isoformat(),
                    "due": sum(c.values()),
                    "sent": c.get("sent", 0),
                    "failed": c.get("failed", 0),
                    "pending": c.get("pending", 0) + c.get("sending", 0),
                    "skipped": c.get("expired", 0) + c.get("cancelled", 0),
                }
            )
    return rows


async def request_resend(
    session: AsyncSession, event: Event, registration_id: int, day_date: date, kind: str, now: datetime
) -> int:
    """Make one attendee's reminder sendable again (a new copy, a new Message-ID); its delivery id."""
    registration = await session.get(Registration, registration_id)
    if registration is None or registration.event_id != event.id:
        raise ReminderNotFound("no such registration in this event")
    day = await session.scalar(select(Day).where(Day.event_id == event.id, Day.date == day_date))
    if day is None:
        raise ReminderNotFound(f"the event has no morning on {day_date.isoformat()}")
    schedule = await event_schedule(session, event.id)
    rule = schedule.rule(kind)
    D = ReminderDelivery
    recipient = f"reg:{registration.id}"
    row = await session.scalar(
        select(D).where(D.recipient == recipient, D.event_id == event.id, D.day_id == day.id, D.kind == kind)
    )
    if (rule is None and row is None) or (rule is not None and rule.audience != "attendees"):
        raise ReminderNotFound(
            f"no attendee reminder {kind!r} (the schedule has {', '.join(r.kind for r in schedule.rules())})"
        )
    if now >= day.ends_at:
        raise ReminderConflict("that morning is over")
    if registration.revoked_at is not None:
        raise ReminderConflict("that registration's join link is revoked: issue a new link first")
    if row is None:
        due_at = (rule or rule_of(kind)).due_at(day.starts_at)
        row = D(
            recipient=recipient,
            event_id=event.id,
            day_id=day.id,
            kind=kind,
            registration_id=registration.id,
            email=registration.email,
            name=registration.name,
            language=mail_language(registration.language, event.languages),
            timezone=registration.timezone,
            due_at=due_at,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            resends=1,
            created_at=now,
        )
        session.add(row)
        await session.flush()
        return row.id
    if row.status == "sending" and row.claimed_at is not None and row.claimed_at > now - CLAIM_LEASE:
        raise ReminderConflict("that reminder is being sent right now")
    changed = await session.execute(
        update(D)
        .where(D.id == row.id, D.status == row.status)
        .values(
            status="pending",
            resends=D.resends + 1,
            attempts=0,
            next_attempt_at=now,
            enqueued_at=None,
            claim_token=None,
            first_attempt_at=None,
            error=None,
            email=registration.email,
            name=registration.name,
            timezone=registration.timezone,
        )
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise ReminderConflict("that reminder changed meanwhile: try again")
    return row.id
