"""Organisers' messages to a chosen audience of their event, one delivery per recipient.

The audience is chosen when the message is sent (the preview counts the same query): everyone, one
category, one language, those who have not joined a chosen morning (yet), or those who joined it but
stayed under the attendance threshold (the reports' figures: ``reports.read_day`` and
``attendance_tables.presence_in``). Revoked registrations are never in an audience. Each recipient is
one ``reminder_deliveries`` row of kind ``message-<mailing id>``, sent by the workers as reminders
are; counts and the resend of failed ones read and re-arm those rows.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from server.adapters.db.models import Day, Event, Mailing, Registration, ReminderDelivery
from server.core.model.base import OneLineText
from server.services.mail.queue import insert_undated
from server.services.registrations import Category
from server.services.reminders.notices import delivery_row, message_kind
from server.services.reports import attendance_tables as at
from server.services.reports.service import read_day

AudienceKind = Literal["everyone", "category", "language", "not_joined", "under_threshold"]
Language = Literal["fr", "en", "es"]


class AudienceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: AudienceKind
    category: Category | None = Field(None, description='With kind "category".')
    language: Language | None = Field(None, description='With kind "language": the registration\'s language.')
    day: date | None = Field(None, description='With "not_joined" and "under_threshold": the morning, YYYY-MM-DD.')

    @model_validator(mode="after")
    def _needs(self) -> AudienceIn:
        needed = {"category": "category", "language": "language", "not_joined": "day", "under_threshold": "day"}
        field = needed.get(self.kind)
        if field is not None and getattr(self, field) is None:
            raise ValueError(f'audience "{self.kind}" needs "{field}"')
        return self


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: dict[Language, OneLineText] = Field(description="Per language of the event, the subject.")
    text: dict[Language, str] = Field(description="Per language of the event, the text (plain, paragraphs apart).")
    audience: AudienceIn

    @model_validator(mode="after")
    def _sizes(self) -> MessageIn:
        for language, subject in self.subject.items():
            if not 1 <= len(subject.strip()) <= 200:
                raise ValueError(f"subject.{language}: from 1 to 200 characters")
        for language, body in self.text.items():
            if not 1 <= len(body.strip()) <= 20000:
                raise ValueError(f"text.{language}: from 1 to 20000 characters")
        return self


class MessageInvalid(ValueError):
    pass


class MessageNotFound(LookupError):
    pass


def check_languages(event: Event, message: MessageIn) -> None:
    """Every language of the event needs a subject and a text."""
    for language in event.languages:
        if language not in message.subject:
            raise MessageInvalid(f"subject.{language}: the event is in {language}: a subject in it is needed")
        if language not in message.text:
            raise MessageInvalid(f"text.{language}: the event is in {language}: a text in it is needed")


def _present_on(
    session: Session, event_id: int, day: date, now: datetime, stale_after: timedelta, threshold: float
) -> tuple[set[int], set[int]]:
    """(who joined the morning so far, who of them stayed under the threshold) by registration id."""
    data = read_day(session, event_id, day, now, stale_after=stale_after)
    joined = set(data.data.presences)
    attendance = at.presence_in(data.data, [data.window], threshold)
    under = {rid for rid in joined if rid not in attendance.people or not attendance.attended(attendance.people[rid])}
    return joined, under


async def audience_of(
    session: AsyncSession,
    event: Event,
    audience: AudienceIn,
    *,
    now: datetime,
    stale_after: timedelta,
    threshold: float,
) -> list[Registration]:
    """The registrations (not revoked) the audience names, in registration order."""
    query = select(Registration).where(Registration.event_id == event.id, Registration.revoked_at.is_(None))
    if audience.kind == "category":
        query = query.where(Registration.category == audience.category)
    elif audience.kind == "language":
        query = query.where(Registration.language == audience.language)
    chosen = list(await session.scalars(query.order_by(Registration.id)))
    if audience.kind in ("not_joined", "under_threshold"):
        assert audience.day is not None
        day = audience.day
        if await session.scalar(select(Day.id).where(Day.event_id == event.id, Day.date == day)) is None:
            raise MessageNotFound(f"the event has no morning on {day.isoformat()}")
        joined, under = await session.run_sync(
            lambda sync: _present_on(sync, event.id, day, now, stale_after, threshold)
        )
        wanted = under if audience.kind == "under_threshold" else None
        chosen = [r for r in chosen if (r.id in wanted if wanted is not None else r.id not in joined)]
    return chosen


async def send(
    session: AsyncSession,
    event: Event,
    message: MessageIn,
    *,
    user_id: int | None,
    now: datetime,
    stale_after: timedelta,
    threshold: float,
) -> Mailing:
    """Record the message and one pending delivery per recipient, in this transaction."""
    check_languages(event, message)
    recipients = await audience_of(
        session, event, message.audience, now=now, stale_after=stale_after, threshold=threshold
    )
    mailing = Mailing(
        event_id=event.id,
        subject={k: v.strip() for k, v in message.subject.items()},
        body={k: v.strip() for k, v in message.text.items()},
        audience=message.audience.model_dump(mode="json", exclude_none=True),
        recipients=len(recipients),
        created_by=user_id,
        created_at=now,
    )
    session.add(mailing)
    await session.flush()
    kind = message_kind(mailing.id)
    await insert_undated(session, [delivery_row(r, event.languages, kind, now) for r in recipients])
    return mailing


def _counts(by_status: dict[str, int]) -> dict[str, int]:
    return {
        "sent": by_status.get("sent", 0),
        "failed": by_status.get("failed", 0),
        "pending": by_status.get("pending", 0) + by_status.get("sending", 0),
        "skipped": by_status.get("expired", 0) + by_status.get("cancelled", 0),
    }


async def overview(session: AsyncSession, event: Event) -> list[dict[str, Any]]:
    """Every message of the event, newest first, with its counts of deliveries by outcome."""
    D = ReminderDelivery
    counts: dict[str, dict[str, int]] = {}
    for kind, status, n in await session.execute(
        select(D.kind, D.status, func.count())
        .where(D.event_id == event.id, D.day_id.is_(None), D.kind.like("message-%"))
        .group_by(D.kind, D.status)
    ):
        counts.setdefault(kind, {})[status] = n
    mailings = await session.scalars(
        select(Mailing).where(Mailing.event_id == event.id).order_by(Mailing.created_at.desc(), Mailing.id.desc())
    )
    return [
        {
            "id": m.id,
            "created_at": m.created_at.isoformat(),
            "subject": m.subject,
            "audience": m.audience,
            "recipients": m.recipients,
            **_counts(counts.get(message_kind(m.id), {})),
        }
        for m in mailings
    ]


async def resend_failed(session: AsyncSession, event: Event, mailing_id: int, now: datetime) -> int:
    """Set the message's failed deliveries back to pending (a new copy each: a new Message-ID); how many."""
    mailing = await session.get(Mailing, mailing_id)
    if mailing is None or mailing.event_id != event.id:
        raise MessageNotFound(f"no message {mailing_id} in this event")
    D = ReminderDelivery
    changed = await session.execute(
        update(D)
        .where(D.event_id == event.id, D.day_id.is_(None), D.kind == message_kind(mailing_id), D.status == "failed")
        .values(
            status="pending",
            resends=D.resends + 1,
            attempts=0,
            next_attempt_at=now,
            enqueued_at=None,
            claim_token=None,
            first_attempt_at=None,
            error=None,
        )
    )
    return int(changed.rowcount)  # type: ignore[attr-defined]
