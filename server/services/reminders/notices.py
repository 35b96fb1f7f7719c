"""Mails about no one morning, on the reminders' delivery record and send path: the registration's
confirmation, a lost link sent again, an organiser's message to an audience.

Their ``reminder_deliveries`` rows have no ``day_id`` and one of the kinds below (one row per
recipient and kind: a partial unique index); they are claimed, sent, retried and counted exactly as
reminders are (``deliveries.deliver`` calls ``prepare`` here instead of reading a morning). See
docs/workers.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from server.adapters.db.models import Day, Event, Mailing, Registration, ReminderDelivery
from server.core.languages import pick_text
from server.services.auth import JoinLinks
from server.services.reminders.rules import calendar_uid, digest, mail_language

CONFIRMATION = "confirmation"
LINK = "link"
MESSAGE_PREFIX = "message-"


UNDATED_KEY = ["recipient", "event_id", "kind"]


def undated_insert(dialect: str, rows: list[dict[str, Any]]) -> Any:
    """INSERT … ON CONFLICT DO NOTHING on the undated rows' key (the partial unique index): a row
    exists once, however many times it is queued."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(ReminderDelivery)
        .values(rows)
        .on_conflict_do_nothing(index_elements=UNDATED_KEY, index_where=text("day_id IS NULL"))
    )


def delivery_row(registration: Registration, languages: Sequence[str], kind: str, now: datetime) -> dict[str, Any]:
    """A pending undated delivery to a registration, due now."""
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


def rearmed(registration: Registration, languages: Sequence[str], now: datetime) -> dict[str, Any]:
    """The values that make a finished undated delivery a new copy: pending, one more resend (a new
    Message-ID), the registration's current address, name and language."""
    D = ReminderDelivery
    return {
        "status": "pending",
        "resends": D.resends + 1,
        "attempts": 0,
        "due_at": now,
        "next_attempt_at": now,
        "enqueued_at": None,
        "claim_token": None,
        "first_attempt_at": None,
        "error": None,
        "email": registration.email,
        "name": registration.name[:200],
        "language": mail_language(registration.language, languages),
        "timezone": registration.timezone,
    }


def message_kind(mailing_id: int) -> str:
    return f"{MESSAGE_PREFIX}{mailing_id}"


def mailing_of(kind: str) -> int | None:
    """The mailing id a ``message-<id>`` kind names, else None."""
    if kind.startswith(MESSAGE_PREFIX) and kind[len(MESSAGE_PREFIX) :].isdigit():
        return int(kind[len(MESSAGE_PREFIX) :])
    return None


def notice_message_id(slug: str, kind: str, recipient: str, resends: int, domain: str) -> str:
    """As a reminder's: derived from the delivery key, so a resend after a crash is recognisably the same."""
    return f"<{kind.split('-')[0]}-{digest(slug, kind, recipient, size=24)}-{resends}@{domain}>"


@dataclass(frozen=True)
class NoticeMorning:
    date: date
    title: str
    starts_at: datetime
    ends_at: datetime
    calendar_uid: str
    calendar_sequence: int


@dataclass(frozen=True)
class NoticeMail:
    """Everything a confirmation, lost-link or message mail says; composing it needs no database."""

    delivery_id: int
    kind: str  # "confirmation", "link" or "message"
    message_id: str
    mail_date: datetime
    to_name: str
    to_email: str
    language: str
    recipient_timezone: str | None
    event_slug: str
    event_title: str
    event_timezone: str
    join_url: str | None
    site_url: str
    outbox_name: str
    mornings: tuple[NoticeMorning, ...] = ()  # the confirmation's calendar: every morning of the event
    subject: str = ""  # an organiser's message: its subject and text in the mail's language
    text: str = ""


@dataclass(frozen=True)
class Prepared:
    """What ``deliver`` needs of an undated delivery: a verdict (status, reason) not to send, or the mail
    and the instant after which a temporary failure is not retried."""

    verdict: tuple[str, str] | None
    mail: NoticeMail | None
    deadline: datetime


def prepare(
    session: Session,
    row: ReminderDelivery,
    event: Event,
    registration: Registration | None,
    *,
    now: datetime,
    links: JoinLinks,
    base_url: str,
    domain: str,
    sequence_of: Callable[[Day], int],
    days: Sequence[Day] | None = None,
) -> Prepared:
    """``days``: the event's mornings in date order, when the caller has read them already (a batch)."""
    if days is None:
        days = list(session.scalars(select(Day).where(Day.event_id == event.id).order_by(Day.date)))
    deadline = max((d.ends_at for d in days), default=now)
    if registration is None or registration.revoked_at is not None:
        return Prepared(("cancelled", "the registration was revoked"), None, deadline)
    if now >= deadline:
        return Prepared(("expired", "the event is over"), None, deadline)
    mailing_id = mailing_of(row.kind)
    subject = text = ""
    language = row.language
    if mailing_id is not None:
        mailing = session.get(Mailing, mailing_id)
        if mailing is None or mailing.event_id != event.id:
            return Prepared(("cancelled", "the message was deleted"), None, deadline)
        wanted = [row.language, *event.languages]
        subject, picked = pick_text(mailing.subject, wanted)
        text, _ = pick_text(mailing.body, [picked, *wanted])
        language = picked or language
    mornings: tuple[NoticeMorning, ...] = ()
    if row.kind == CONFIRMATION:
        mornings = tuple(
            NoticeMorning(
                d.date,
                pick_text(d.title, [language, *event.languages])[0],
                d.starts_at,
                d.ends_at,
                calendar_uid(event.slug, d.date, row.email, domain),
                sequence_of(d),
            )
            for d in days
        )
    first = row.first_attempt_at or now  # set by the claim: the first attempt's instant
    kind = "message" if mailing_id is not None else row.kind
    return Prepared(
        None,
        NoticeMail(
            delivery_id=row.id,
            kind=kind,
            message_id=notice_message_id(event.slug, row.kind, row.recipient, row.resends, domain),
            mail_date=first,
            to_name=row.name,
            to_email=row.email,
            language=language,
            recipient_timezone=row.timezone,
            event_slug=event.slug,
            event_title=pick_text(event.title, [language, *event.languages])[0],
            event_timezone=event.timezone,
            join_url=f"{base_url}/join/{links.make(registration)}",
            site_url=base_url,
            outbox_name=f"{first:%Y%m%dT%H%M%SZ}-{event.slug}-{row.kind}-{digest(row.recipient)}-{row.resends}",
            mornings=mornings,
            subject=subject,
            text=text,
        ),
        deadline,
    )
