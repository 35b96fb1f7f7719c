"""Reminders before each morning: the rules (pure, given `now`) and the delivery record (exactly once).

The rules decide which reminders are due and for whom; they take instants as arguments and touch no
database. The record is one `ReminderDelivery` row per (recipient, event, morning, kind), inserted by
the scan (insert-or-ignore on the unique key) and claimed by a conditional UPDATE before any mail goes
out; see docs/workers.md for the whole protocol and what a worker killed mid-send means.

Every due instant is computed from the morning's aware UTC start stored in the database minus an
elapsed duration, so a daylight-saving change neither shifts nor doubles a reminder.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, sessionmaker

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
from server.programme import MAX_REMINDER_MINUTES, ReminderSpec, format_offset
from server.services.auth import JoinLinks

Audience = Literal["attendees", "speakers"]
MAIL_LANGUAGES = ("fr", "en", "es")

CLAIM_LEASE = timedelta(minutes=10)  # a claim older than this is a dead worker's: reclaimable
REQUEUE_AFTER = timedelta(minutes=5)  # an enqueued row nobody picked up is enqueued again
BATCH_SETTLE = timedelta(minutes=2)  # recipients are chosen during this long after a reminder first came due
RETRY_BASE = timedelta(minutes=1)
RETRY_CAP = timedelta(minutes=15)
MAX_ATTEMPTS = 8
HORIZON = timedelta(minutes=MAX_REMINDER_MINUTES)


# --- the schedule and the rules (pure) ----------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Rule:
    """One reminder of every morning: an audience, so many minutes before the morning starts."""

    audience: Audience
    minutes: int

    @property
    def kind(self) -> str:
        return f"{self.audience}-{format_offset(self.minutes)}"

    def due_at(self, morning_start: datetime) -> datetime:
        """An elapsed duration before an aware instant: 24 h is 24 h even across a clock change."""
        return morning_start.astimezone(UTC) - timedelta(minutes=self.minutes)


@dataclass(frozen=True)
class Schedule:
    attendees: tuple[int, ...]
    speakers: tuple[int, ...]

    @classmethod
    def from_offsets(cls, offsets: dict[str, Any] | None) -> Schedule:
        default = ReminderSpec()
        offsets = offsets or {}
        return cls(
            attendees=tuple(sorted(offsets.get("attendees", default.attendees), reverse=True)),
            speakers=tuple(sorted(offsets.get("speakers", default.speakers), reverse=True)),
        )

    def offsets(self) -> dict[str, list[int]]:
        return {"attendees": list(self.attendees), "speakers": list(self.speakers)}

    def labels(self) -> dict[str, list[str]]:
        return {audience: [format_offset(m) for m in minutes] for audience, minutes in self.offsets().items()}

    def rules(self) -> list[Rule]:
        """Every rule, earliest first within each audience."""
        return [Rule("attendees", m) for m in self.attendees] + [Rule("speakers", m) for m in self.speakers]

    def rule(self, kind: str) -> Rule | None:
        return next((r for r in self.rules() if r.kind == kind), None)


DEFAULT_SCHEDULE = Schedule.from_offsets(None)


def due_rules(schedule: Schedule, morning_start: datetime, now: datetime) -> list[Rule]:
    """The rules of one morning due at `now`: come due, morning not started, not superseded.

    A rule is superseded when a later rule of the same audience is due too (after a downtime, only
    the latest reminder goes out, not a burst of stale ones).
    """
    if now >= morning_start:
        return []
    due = [r for r in schedule.rules() if r.due_at(morning_start) <= now]
    return [r for r in due if not superseded(schedule, r, morning_start, now)]


def superseded(schedule: Schedule, rule: Rule, morning_start: datetime, now: datetime) -> bool:
    return any(
        other.audience == rule.audience and other.minutes < rule.minutes and other.due_at(morning_start) <= now
        for other in schedule.rules()
    )


def attendee_eligible(registered_at: datetime, revoked_at: datetime | None, due_at: datetime) -> bool:
    """Registered by the time the reminder came due (later ones get only those still ahead), not revoked."""
    return revoked_at is None and registered_at <= due_at


def batch_open(opened_at: datetime, now: datetime) -> bool:
    return now < opened_at + BATCH_SETTLE


def retry_delay(attempts: int) -> timedelta:
    """Capped exponential backoff after `attempts` failed tries: 1, 2, 4, 8, 15, 15... minutes."""
    return min(RETRY_CAP, RETRY_BASE * 2 ** max(0, attempts - 1))


def mail_language(preferred: str | None, event_languages: Sequence[str]) -> str:
    """The recipient's language when mails exist in it, else the event's first language, else English."""
    for language in (preferred, *event_languages[:1]):
        if language in MAIL_LANGUAGES:
            return str(language)
    return "en"


def _digest(*parts: object, size: int = 16) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:size]


def message_id(slug: str, day: date, kind: str, recipient: str, resends: int, domain: str) -> str:
    """Derived from the delivery key: a resend after a crash carries the same id (recognisable as one)."""
    return f"<reminder-{_digest(slug, day.isoformat(), kind, recipient, size=24)}-{resends}@{domain}>"


def calendar_uid(slug: str, day: date, recipient: str, domain: str) -> str:
    """Stable per person and morning: every reminder of that morning updates the same calendar entry."""
    return f"{_digest(slug, day.isoformat(), recipient, size=32)}@{domain}"


@dataclass(frozen=True)
class Recipient:
    key: str  # "reg:<registration id>" or "mail:<lower-case email>"
    email: str
    name: str
    language: str
    timezone: str | None
    registration_id: int | None


def attendee_recipients(
    registrations: Iterable[Registration], due_at: datetime, languages: Sequence[str]
) -> list[Recipient]:
    return [
        Recipient(f"reg:{r.id}", r.email, r.name, mail_language(r.language, languages), r.timezone, r.id)
        for r in registrations
        if attendee_eligible(r.created_at, r.revoked_at, due_at)
    ]


def speaker_recipients(
    people: Iterable[tuple[str, str]],
    registrations_by_email: dict[str, Registration],
    languages: Sequence[str],
) -> list[Recipient]:
    """(name, email) of the morning's moderators and speakers and of the event's staff moderators,
    one each by email; a registration with the same email gives its language, zone and join link."""
    chosen: dict[str, Recipient] = {}
    for name, email in people:
        address = email.strip().lower()
        if not address or address in chosen:
            continue
        reg = registrations_by_email.get(address)
        chosen[address] = Recipient(
            f"mail:{address}",
            address,
            name,
            mail_language(reg.language if reg else None, languages),
            reg.timezone if reg else None,
            reg.id if reg and reg.revoked_at is None else None,
        )
    return list(chosen.values())


# --- the scan (sync session, workers) -----------------------------------------------------------------


def _insert_ignore(session: Session, model: type[Any], rows: list[dict[str, Any]], keys: list[str]) -> None:
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(insert(model).on_conflict_do_nothing(index_elements=keys), rows)


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
    REQUEUE_AFTER (and again when a claim's lease has expired)."""
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
    ready = or_(
        and_(D.status == "pending", D.next_attempt_at <= now),
        and_(D.status == "sending", D.claimed_at <= now - CLAIM_LEASE),
    )
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
    date: datetime
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

    def __init__(self, message: str, *, permanent: bool, code: int | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code


def _text(texts: dict[str, Any], language: str, languages: Sequence[str]) -> str:
    for key in (language, *languages):
        if texts.get(key):
            return str(texts[key])
    return next((str(v) for v in texts.values() if v), "")


def claim(session: Session, delivery_id: int, now: datetime) -> str | None:
    """Take the delivery for this worker if it is still to send; the claim token, or None."""
    D = ReminderDelivery
    token = secrets.token_hex(16)
    result = session.execute(
        update(D)
        .where(
            D.id == delivery_id,
            or_(
                and_(D.status == "pending", D.next_attempt_at <= now),
                and_(D.status == "sending", D.claimed_at <= now - CLAIM_LEASE),
            ),
        )
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
    fingerprint = _digest(
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
) -> ReminderMail:
    languages = list(event.languages)
    segments = list(session.scalars(select(Segment).where(Segment.day_id == day.id).order_by(Segment.starts_at)))
    people = session.scalars(
        select(SegmentPerson)
        .where(SegmentPerson.segment_id.in_([s.id for s in segments]))
        .order_by(SegmentPerson.position)
    ).all()
    by_segment: dict[int, list[SegmentPerson]] = {}
    for person in people:
        by_segment.setdefault(person.segment_id, []).append(person)
    address = row.email.lower()
    mail_segments = []
    for s in segments:
        listed = by_segment.get(s.id, [])
        own = next((p.role for p in listed if (p.email or "").strip().lower() == address), None)
        mail_segments.append(
            MailSegment(
                s.key,
                s.kind,
                _text(s.title, row.language, languages),
                s.starts_at,
                s.ends_at,
                tuple((p.role, p.name, p.title, p.affiliation) for p in listed),
                own if row.recipient.startswith("mail:") else None,
            )
        )
    rule = _rule_of(row.kind)
    first = row.first_attempt_at or datetime.now(UTC)
    join = (
        f"{base_url}/join/{links.make(registration)}"
        if registration is not None and registration.revoked_at is None
        else None
    )
    digest = _digest(row.recipient)
    return ReminderMail(
        delivery_id=row.id,
        kind=row.kind,
        audience=rule.audience,
        minutes_before=rule.minutes,
        message_id=message_id(event.slug, day.date, row.kind, row.recipient, row.resends, domain),
        date=first,
        to_name=row.name,
        to_email=row.email,
        language=row.language,
        recipient_timezone=row.timezone,
        event_slug=event.slug,
        event_title=_text(event.title, row.language, languages),
        event_timezone=event.timezone,
        day=day.date,
        day_title=_text(day.title, row.language, languages),
        day_theme=_text(day.theme, row.language, languages) or None,
        starts_at=day.starts_at,
        ends_at=day.ends_at,
        segments=tuple(mail_segments),
        join_url=join,
        site_url=base_url,
        calendar_uid=calendar_uid(event.slug, day.date, row.recipient, domain),
        calendar_sequence=_calendar_sequence(session, day, segments),
        outbox_name=f"{first:%Y%m%dT%H%M%SZ}-{event.slug}-{day.date.isoformat()}-{row.kind}-{digest}-{row.resends}",
    )


def _rule_of(kind: str) -> Rule:
    """The rule a kind names ("speakers-1h30m"), even when the schedule no longer lists it."""
    from server.programme import parse_offset

    audience, _, offset = kind.partition("-")
    return Rule("speakers" if audience == "speakers" else "attendees", parse_offset(offset))


Compose = Callable[[ReminderMail], Any]
Send = Callable[[Any, ReminderMail], None]


def deliver(
    sessions: sessionmaker[Session],
    delivery_id: int,
    *,
    now: datetime,
    links: JoinLinks,
    base_url: str,
    domain: str,
    compose: Compose,
    send: Send,
) -> str:
    """Claim -> check -> compose -> send -> mark. Returns what happened (sent, retry, failed, expired,
    cancelled, or not-claimed when another worker has it or it is done)."""
    with sessions.begin() as session:
        token = claim(session, delivery_id, now)
        if token is None:
            return "not-claimed"
        row = session.get(ReminderDelivery, delivery_id)
        assert row is not None
        day = session.get(Day, row.day_id)
        event = session.get(Event, row.event_id)
        assert day is not None and event is not None
        registration = session.get(Registration, row.registration_id) if row.registration_id else None
        verdict = _why_not(row, day, load_schedule(session, event.id), registration, now)
        if verdict is not None:
            _finish(session, delivery_id, token, status=verdict[0], error=verdict[1], claim_token=None)
            return verdict[0]
        mail = _mail(session, row, event, day, registration, links=links, base_url=base_url, domain=domain)
        starts_at, ends_at, attempts, resends = day.starts_at, day.ends_at, row.attempts, row.resends
    try:
        send(compose(mail), mail)
    except DeliveryError as exc:
        deadline = ends_at if resends else starts_at
        retry_at = now + retry_delay(attempts)
        if exc.permanent or attempts >= MAX_ATTEMPTS or retry_at >= deadline:
            status = "failed" if exc.permanent or attempts >= MAX_ATTEMPTS else "expired"
            with sessions.begin() as session:
                _finish(session, delivery_id, token, status=status, error=str(exc)[:2000], claim_token=None)
            return status
        with sessions.begin() as session:
            _finish(
                session,
                delivery_id,
                token,
                status="pending",
                next_attempt_at=retry_at,
                enqueued_at=None,
                claim_token=None,
                error=str(exc)[:2000],
            )
        return "retry"
    with sessions.begin() as session:
        if not _finish(
            session,
            delivery_id,
            token,
            status="sent",
            sent_at=now,
            message_id=mail.message_id,
            error=None,
            claim_token=None,
        ):
            # Our lease ran out and another worker took the row: it may send the same Message-ID again.
            return "sent-late"
    return "sent"


# --- organisers (async session, HTTP) -----------------------------------------------------------------


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
    from zoneinfo import ZoneInfo

    schedule = await event_schedule(session, event.id)
    days = (await session.scalars(select(Day).where(Day.event_id == event.id).order_by(Day.date))).all()
    D = ReminderDelivery
    counts: dict[tuple[int, str], dict[str, int]] = {}
    for day_id, kind, status, n in await session.execute(
        select(D.day_id, D.kind, D.status, func.count())
        .where(D.event_id == event.id)
        .group_by(D.day_id, D.kind, D.status)
    ):
        counts.setdefault((day_id, kind), {})[status] = n
    zone = ZoneInfo(event.timezone)
    rows = []
    for day in days:
        kinds = [r.kind for r in schedule.rules()]
        kinds += sorted(k for (d, k) in counts if d == day.id and k not in kinds)  # from an earlier schedule
        for kind in kinds:
            rule = schedule.rule(kind) or _rule_of(kind)
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
        due_at = (rule or _rule_of(kind)).due_at(day.starts_at)
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
