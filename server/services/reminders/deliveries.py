"""The delivery record, with a sync session (workers): the scan creates deliveries, a send claims one
before any mail goes out and marks it after. See docs/workers.md for the protocol.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from server.adapters.db.models import (
    Day,
    Event,
    EventRole,
    Registration,
    ReminderBatch,
    ReminderCalendarVersion,
    ReminderDelivery,
    ReminderSchedule,
    Segment,
    SegmentPerson,
    User,
)
from server.core.languages import pick_text
from server.services.auth import JoinLinks
from server.services.reminders import lost_links
from server.services.reminders.notices import NoticeMail
from server.services.reminders.rules import (
    CLAIM_LEASE,
    HORIZON,
    REQUEUE_AFTER,
    Recipient,
    Rule,
    Schedule,
    attendee_recipients,
    batch_open,
    calendar_uid,
    digest,
    due_rules,
    message_id,
    rule_of,
    speaker_recipients,
    superseded,
)

log = logging.getLogger("parley.reminders")


# --- the scan (sync session, workers) -----------------------------------------------------------------


def _insert_ignore(session: Session, model: type[Any], rows: list[dict[str, Any]], keys: list[str]) -> None:
    if not rows:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(model).on_conflict_do_nothing(index_elements=keys), rows)


def load_schedule(session: Session, event_id: int) -> Schedule:
    row = session.get(ReminderSchedule, event_id)
    return Schedule.from_offsets(row.offsets if row else None)


def _recipients(session: Session, event: Event, day: Day, rule: Rule) -> list[Recipient]:
    if rule.audience == "attendees":
        due_at = rule.due_at(day.starts_at)
        regs = session.scalars(
            select(Registration).where(
                Registration.event_id == event.id,
                Registration.revoked_at.is_(None),
                Registration.created_at <= due_at,
            )
        )
        return attendee_recipients(regs, due_at, event.languages)
    people = session.execute(
        select(SegmentPerson.name, SegmentPerson.email)
        .join(Segment, Segment.id == SegmentPerson.segment_id)
        .where(Segment.day_id == day.id, SegmentPerson.email.is_not(None))
        .order_by(Segment.starts_at, SegmentPerson.position)
    ).all()
    staff = session.execute(
        select(User.name, User.email)
        .join(EventRole, EventRole.user_id == User.id)
        .where(EventRole.event_id == event.id, EventRole.role == "moderator")
        .order_by(User.id)
    ).all()
    everyone = [(str(n), str(e)) for n, e in [*people, *staff] if e]
    emails = {e.strip().lower() for _, e in everyone}
    regs = session.scalars(
        select(Registration).where(Registration.event_id == event.id, func.lower(Registration.email).in_(emails))
    )
    return speaker_recipients(everyone, {r.email.lower(): r for r in regs}, event.languages)


def scan(session: Session, now: datetime) -> list[int]:
    """Create the deliveries that came due and return the ids to enqueue. Safe to run any number of
    times at once: rows are insert-or-ignore on their unique key; an id is handed out once per
    REQUEUE_AFTER (and again when a claim's lease has expired). It also takes the "I lost my link"
    requests not handled yet (``lost_links``) and queues their mails, handed out below with the rest."""
    lost_links.take_requests(session, now)
    upcoming = session.execute(
        select(Day, Event)
        .join(Event, Event.id == Day.event_id)
        .where(Day.starts_at > now, Day.starts_at <= now + HORIZON)
        .order_by(Day.starts_at)
    ).all()
    for day, event in upcoming:
        schedule = load_schedule(session, event.id)
        for rule in due_rules(schedule, day.starts_at, now):
            _insert_ignore(
                session, ReminderBatch, [{"day_id": day.id, "kind": rule.kind, "opened_at": now}], ["day_id", "kind"]
            )
            opened_at = session.scalar(
                select(ReminderBatch.opened_at).where(ReminderBatch.day_id == day.id, ReminderBatch.kind == rule.kind)
            )
            if opened_at is None or not batch_open(opened_at, now):
                continue
            due_at = rule.due_at(day.starts_at)
            rows = [
                {
                    "recipient": r.key,
                    "event_id": event.id,
                    "day_id": day.id,
                    "kind": rule.kind,
                    "registration_id": r.registration_id,
                    "email": r.email,
                    "name": r.name[:200],
                    "language": r.language,
                    "timezone": r.timezone,
                    "due_at": due_at,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": due_at,
                    "resends": 0,
                    "created_at": now,
                }
                for r in _recipients(session, event, day, rule)
            ]
            _insert_ignore(session, ReminderDelivery, rows, ["recipient", "event_id", "day_id", "kind"])
    D = ReminderDelivery
    ready = claimable(now)
    not_recently_enqueued = or_(D.enqueued_at.is_(None), D.enqueued_at <= now - REQUEUE_AFTER)
    ids = session.scalars(update(D).where(ready, not_recently_enqueued).values(enqueued_at=now).returning(D.id)).all()
    return sorted(ids)


# --- one delivery: claim, check, compose, send, record ------------------------------------------------


@dataclass(frozen=True)
class MailSegment:
    key: str
    kind: str
    title: str
    starts_at: datetime
    ends_at: datetime
    people: tuple[tuple[str, str, str | None, str | None], ...]  # (role, name, title, affiliation)
    own_role: str | None  # the recipient's role in it, if any


@dataclass(frozen=True)
class ReminderMail:
    """Everything a reminder mail says, read in one transaction; composing it needs no database."""

    delivery_id: int
    kind: str
    audience: str
    minutes_before: int
    message_id: str
    mail_date: datetime  # the Date header: the first attempt's instant, the same on a resend after a crash
    to_name: str
    to_email: str
    language: str
    recipient_timezone: str | None
    event_slug: str
    event_title: str
    event_timezone: str
    day: date
    day_title: str
    day_theme: str | None
    starts_at: datetime
    ends_at: datetime
    segments: tuple[MailSegment, ...]
    join_url: str | None
    site_url: str
    calendar_uid: str
    calendar_sequence: int
    outbox_name: str


class DeliveryError(Exception):
    """A mail was not accepted. `permanent` (5xx): recorded, not retried; otherwise retried later."""

    def __init__(
        self, message: str, *, permanent: bool, code: int | None = None, connection_lost: bool = False
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code
        # the mail server cannot be reached (or dropped a fresh connection): the batch's other mails are
        # left for the next scan rather than tried one by one against it
        self.connection_lost = connection_lost


def _text(texts: dict[str, Any], language: str) -> str:
    """A programme text in the mail's language, else by the shared fallback order (the event's first
    language comes first in ``texts`` and is always there)."""
    return pick_text(texts, [language])[0]


def claimable(now: datetime) -> ColumnElement[bool]:
    """A delivery still to send at ``now``: pending and due, or claimed by a worker whose lease is over."""
    D = ReminderDelivery
    return or_(
        and_(D.status == "pending", D.next_attempt_at <= now),
        and_(D.status == "sending", D.claimed_at <= now - CLAIM_LEASE),
    )


def claim(session: Session, delivery_id: int, now: datetime) -> str | None:
    """Take the delivery for this worker if it is still to send; the claim token, or None."""
    D = ReminderDelivery
    token = secrets.token_hex(16)
    result = session.execute(
        update(D)
        .where(D.id == delivery_id, claimable(now))
        .values(status="sending", claimed_at=now, claim_token=token, attempts=D.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    session.execute(update(D).where(D.id == delivery_id, D.first_attempt_at.is_(None)).values(first_attempt_at=now))
    return token


def _finish(session: Session, delivery_id: int, token: str, **values: Any) -> bool:
    D = ReminderDelivery
    result = session.execute(
        update(D).where(D.id == delivery_id, D.claim_token == token, D.status == "sending").values(**values)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _why_not(
    row: ReminderDelivery, day: Day, schedule: Schedule, registration: Registration | None, now: datetime
) -> tuple[str, str] | None:
    if row.resends:  # an organiser's resend is wanted until the morning ends
        if now >= day.ends_at:
            return "expired", "the morning is over"
    elif now >= day.starts_at:
        return "expired", "the morning had started"
    rule = schedule.rule(row.kind)
    if not row.resends and rule is not None and superseded(schedule, rule, day.starts_at, now):
        return "expired", "superseded by a later reminder"
    if row.recipient.startswith("reg:") and (registration is None or registration.revoked_at is not None):
        return "cancelled", "the registration was revoked"
    return None


def _calendar_sequence(session: Session, day: Day, segments: Sequence[Segment]) -> int:
    """Bump the morning's SEQUENCE once per change of its times (compare-and-set, safe in parallel)."""
    fingerprint = digest(
        day.starts_at.isoformat(),
        day.ends_at.isoformat(),
        *(f"{s.key}={s.starts_at.isoformat()}/{s.ends_at.isoformat()}" for s in segments),
        size=64,
    )
    _insert_ignore(
        session, ReminderCalendarVersion, [{"day_id": day.id, "sequence": 0, "fingerprint": fingerprint}], ["day_id"]
    )
    V = ReminderCalendarVersion
    session.execute(
        update(V)
        .where(V.day_id == day.id, V.fingerprint != fingerprint)
        .values(sequence=V.sequence + 1, fingerprint=fingerprint)
    )
    return int(session.scalar(select(V.sequence).where(V.day_id == day.id)) or 0)


def _segments(session: Session, day: Day) -> list[Segment]:
    return list(session.scalars(select(Segment).where(Segment.day_id == day.id).order_by(Segment.starts_at)))


@dataclass(frozen=True)
class Morning:
    """What every reminder of one morning shares, read once per batch: its segments, their people and
    the calendar SEQUENCE."""

    segments: list[Segment]
    people: dict[int, list[SegmentPerson]]  # segment id -> its people, in order
    calendar_sequence: int


def read_morning(session: Session, day: Day) -> Morning:
    segments = _segments(session, day)
    people = session.scalars(
        select(SegmentPerson)
        .where(SegmentPerson.segment_id.in_([s.id for s in segments]))
        .order_by(SegmentPerson.position)
    ).all()
    by_segment: dict[int, list[SegmentPerson]] = {}
    for person in people:
        by_segment.setdefault(person.segment_id, []).append(person)
    return Morning(segments, by_segment, _calendar_sequence(session, day, segments))


def _mail(
    session: Session,
    row: ReminderDelivery,
    event: Event,
    day: Day,
    registration: Registration | None,
    *,
    links: JoinLinks,
    base_url: str,
    domain: str,
    morning: Morning | None = None,
) -> ReminderMail:
    morning = morning or read_morning(session, day)
    segments, by_segment = morning.segments, morning.people
    address = row.email.lower()
    mail_segments = []
    for s in segments:
        listed = by_segment.get(s.id, [])
        own = next((p.role for p in listed if (p.email or "").strip().lower() == address), None)
        mail_segments.append(
            MailSegment(
                s.key,
                s.kind,
                _text(s.title, row.language),
                s.starts_at,
                s.ends_at,
                tuple((p.role, p.name, p.title, p.affiliation) for p in listed),
                own if row.recipient.startswith("mail:") else None,
            )
        )
    rule = rule_of(row.kind)
    first = row.first_attempt_at or datetime.now(UTC)
    join = (
        f"{base_url}/join/{links.make(registration)}"
        if registration is not None and registration.revoked_at is None
        else None
    )
    tag = digest(row.recipient)
    return ReminderMail(
        delivery_id=row.id,
        kind=row.kind,
        audience=rule.audience,
        minutes_before=rule.minutes,
        message_id=message_id(event.slug, day.date, row.kind, row.recipient, row.resends, domain),
        mail_date=first,
        to_name=row.name,
        to_email=row.email,
        language=row.language,
        recipient_timezone=row.timezone,
        event_slug=event.slug,
        event_title=_text(event.title, row.language),
        event_timezone=event.timezone,
        day=day.date,
        day_title=_text(day.title, row.language),
        day_theme=_text(day.theme, row.language) or None,
        starts_at=day.starts_at,
        ends_at=day.ends_at,
        segments=tuple(mail_segments),
        join_url=join,
        site_url=base_url,
        calendar_uid=calendar_uid(event.slug, day.date, row.email, domain),
        calendar_sequence=morning.calendar_sequence,
        outbox_name=f"{first:%Y%m%dT%H%M%SZ}-{event.slug}-{day.date.isoformat()}-{row.kind}-{tag}-{row.resends}",
    )


Compose = Callable[[ReminderMail | NoticeMail], Any]
Send = Callable[[Any, ReminderMail | NoticeMail, Callable[[], None]], None]
"""``send(message, mail, accepted)`` hands the message over and calls ``accepted()`` the moment the
mail server (or the outbox) has it, before anything else (SMTP's QUIT): the delivery is marked
sent then, so a worker killed after that leaves nothing to resend."""
