"""Reminder rules: which reminders are due for whom. Pure: instants are arguments, nothing is read.

Every due instant is the morning's aware UTC start minus an elapsed duration, so a daylight-saving
change neither shifts nor doubles a reminder.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, Protocol

from server.core.languages import INTERFACE_LANGUAGES, pick_language
from server.programme import MAX_REMINDER_MINUTES, ReminderSpec, format_offset, parse_offset

Audience = Literal["attendees", "speakers"]
MAIL_LANGUAGES = INTERFACE_LANGUAGES  # workers/templates has each one's labels and layouts

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
    delay: timedelta = min(RETRY_CAP, RETRY_BASE * 2 ** max(0, attempts - 1))
    return delay


def mail_language(preferred: str | None, event_languages: Sequence[str]) -> str:
    """The recipient's language when mails exist in it, else the event's first language, else the
    shared fallback order (server/core/languages.py)."""
    return pick_language([preferred, *event_languages[:1]], MAIL_LANGUAGES) or MAIL_LANGUAGES[0]


def digest(*parts: object, size: int = 16) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:size]


def message_id(slug: str, day: date, kind: str, recipient: str, resends: int, domain: str) -> str:
    """Derived from the delivery key: a resend after a crash carries the same id (recognisable as one)."""
    return f"<reminder-{digest(slug, day.isoformat(), kind, recipient, size=24)}-{resends}@{domain}>"


def calendar_uid(slug: str, day: date, email: str, domain: str) -> str:
    """One per person and morning: every reminder of that morning updates the same calendar entry.

    Keyed on the normalised email, not the delivery's recipient key: a registered attendee who also
    moderates gets the attendee reminder (``reg:<id>``) and the speakers' one (``mail:<email>``), and
    both must land on one entry of their calendar (the morning's SEQUENCE orders the versions).
    """
    return f"{digest(slug, day.isoformat(), 'person', email.strip().lower(), size=32)}@{domain}"


@dataclass(frozen=True)
class Recipient:
    key: str  # "reg:<registration id>" or "mail:<lower-case email>"
    email: str
    name: str
    language: str
    timezone: str | None
    registration_id: int | None


class RegistrationFacts(Protocol):
    """What the rules read of a registration (the database row has these, and so may a test's value)."""

    @property
    def id(self) -> int: ...
    @property
    def email(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def language(self) -> str: ...
    @property
    def timezone(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def revoked_at(self) -> datetime | None: ...


def attendee_recipients(
    registrations: Iterable[RegistrationFacts], due_at: datetime, languages: Sequence[str]
) -> list[Recipient]:
    return [
        Recipient(f"reg:{r.id}", r.email, r.name, mail_language(r.language, languages), r.timezone, r.id)
        for r in registrations
        if attendee_eligible(r.created_at, r.revoked_at, due_at)
    ]


def speaker_recipients(
    people: Iterable[tuple[str, str]],
    registrations_by_email: Mapping[str, RegistrationFacts],
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


def rule_of(kind: str) -> Rule:
    """The rule a kind names ("speakers-1h30m"), even when the schedule no longer lists it."""
    audience, _, offset = kind.partition("-")
    return Rule("speakers" if audience == "speakers" else "attendees", parse_offset(offset))
