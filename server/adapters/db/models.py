"""Typed SQLAlchemy models. Instants are aware UTC (see ``UTCDateTime``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.adapters.db.base import Base, Timestamped, utcnow


class Event(Timestamped, Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[dict[str, Any]]
    timezone: Mapped[str] = mapped_column(String(64))
    languages: Mapped[list[Any]]
    streams: Mapped[dict[str, Any]]
    source: Mapped[str] = mapped_column(Text, default="")
    is_rehearsal: Mapped[bool] = mapped_column(default=False, server_default=false())
    """A rehearsal copy: its segments may be opened on any day (``parley event copy --rehearsal``)."""
    speaking_order: Mapped[list[Any] | None] = mapped_column(default=None)
    """The order of attendee categories for the list of speakers by category; null: the default
    (``server.core.speaking_order.DEFAULT_CATEGORY_ORDER``)."""

    days: Mapped[list[Day]] = relationship(back_populates="event", order_by="Day.date", cascade="all, delete-orphan")
    segments: Mapped[list[Segment]] = relationship(
        back_populates="event", order_by="Segment.starts_at", cascade="all, delete-orphan", viewonly=True
    )


class Day(Base):
    __tablename__ = "days"
    __table_args__ = (UniqueConstraint("event_id", "date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    date: Mapped[date]
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    title: Mapped[dict[str, Any]]
    theme: Mapped[dict[str, Any]]

    event: Mapped[Event] = relationship(back_populates="days")
    segments: Mapped[list[Segment]] = relationship(
        back_populates="day", order_by="Segment.starts_at", cascade="all, delete-orphan"
    )


class Segment(Base):
    __tablename__ = "segments"
    __table_args__ = (
        UniqueConstraint("event_id", "key"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("kind IN ('opening', 'panel', 'closing')", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    day_id: Mapped[int] = mapped_column(ForeignKey("days.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[dict[str, Any]]
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]

    event: Mapped[Event] = relationship(back_populates="segments", viewonly=True)
    day: Mapped[Day] = relationship(back_populates="segments")
    people: Mapped[list[SegmentPerson]] = relationship(
        back_populates="segment", order_by="SegmentPerson.position", cascade="all, delete-orphan"
    )


class SegmentPerson(Base):
    """A moderator or speaker of one segment, with title and affiliation as published."""

    __tablename__ = "segment_people"
    __table_args__ = (
        UniqueConstraint("segment_id", "position"),
        CheckConstraint("role IN ('moderator', 'speaker')", name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(Text)
    affiliation: Mapped[str | None] = mapped_column(Text)
    video_message: Mapped[bool] = mapped_column(default=False)
    email: Mapped[str | None] = mapped_column(String(254))  # private: reminders only, never published

    segment: Mapped[Segment] = relationship(back_populates="people")


class User(Timestamped, Base):
    """A moderator or organiser account (email + argon2id password)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(Text)

    roles: Mapped[list[EventRole]] = relationship(back_populates="user", cascade="all, delete-orphan")


class EventRole(Base):
    __tablename__ = "event_roles"
    __table_args__ = (
        UniqueConstraint("user_id", "event_id", "role"),
        CheckConstraint("role IN ('moderator', 'organiser')", name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))

    user: Mapped[User] = relationship(back_populates="roles")


# --- attendees and sign-in ---------------------------------------------------------------------------

LANGUAGES = ("fr", "en", "es")


class Registration(Base):
    """An attendee of one event. The join link carries a signed nonce; rotating the nonce revokes it."""

    __tablename__ = "registrations"
    __table_args__ = (
        UniqueConstraint("event_id", "email"),
        CheckConstraint(
            "category IN ('member_state', 'un_system', 'intergovernmental', 'civil_society', "
            "'academia', 'media', 'other')",
            name="category",
        ),
        CheckConstraint("language IN ('fr', 'en', 'es')", name="language"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    organisation: Mapped[str] = mapped_column(String(200), default="")
    category: Mapped[str] = mapped_column(String(32))
    country: Mapped[str] = mapped_column(String(100), default="")
    language: Mapped[str] = mapped_column(String(2), default="en")
    timezone: Mapped[str | None] = mapped_column(String(64))
    listed: Mapped[bool] = mapped_column(default=False)
    join_nonce: Mapped[str] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebSession(Base):
    """A signed-in browser (or client). The cookie holds a random token; only its hash is stored."""

    __tablename__ = "web_sessions"
    __table_args__ = (CheckConstraint("(user_id IS NULL) <> (registration_id IS NULL)", name="one_principal"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    registration_id: Mapped[int | None] = mapped_column(ForeignKey("registrations.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class SignInLink(Base):
    """A one-time sign-in link for a staff account (the embedded demo prints them on first start)."""

    __tablename__ = "sign_in_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class SignInAttempt(Base):
    """One staff sign-in attempt: the audit, and what the sign-in throttle counts (see docs/security.md).

    ``email`` is the address as typed (normalised), whether or not an account has it, so that unknown
    and known accounts are throttled alike; ``user_id`` is the account when there is one.
    """

    __tablename__ = "sign_in_attempts"
    __table_args__ = (
        CheckConstraint("method IN ('password', 'link', 'cli')", name="method"),
        CheckConstraint("outcome IN ('success', 'failure', 'throttled', 'reset')", name="outcome"),
        Index("ix_sign_in_attempts_email_at", "email", "at"),
        Index("ix_sign_in_attempts_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    email: Mapped[str] = mapped_column(String(254))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    address: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16))


# --- the live session ---------------------------------------------------------------------------------


class LiveStateRow(Base):
    """The current live state of an event and the last seq of each channel, locked per command."""

    __tablename__ = "live_states"

    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    epoch: Mapped[str] = mapped_column(String(32))
    public_seq: Mapped[int] = mapped_column(default=0)
    staff_seq: Mapped[int] = mapped_column(default=0)
    state: Mapped[dict[str, Any]]
    format: Mapped[int]  # of ``state``: written and read through server.core.records, never directly
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class EventLogEntry(Base):
    """Every event emitted, in seq order per channel: the replay history and the record for reports."""

    __tablename__ = "event_log"
    __table_args__ = (
        UniqueConstraint("event_id", "channel", "seq"),
        CheckConstraint("channel IN ('public', 'staff')", name="channel"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(8))
    seq: Mapped[int]
    type: Mapped[str] = mapped_column(String(64))  # as written (an upcaster may rename it: see core.records)
    payload: Mapped[dict[str, Any]]
    format: Mapped[int]  # of ``payload``: written and read through server.core.records, never directly
    actor: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[datetime]


class CommandResult(Base):
    """The first answer to a client command id, so a repeated id is answered, not applied twice."""

    __tablename__ = "command_results"
    __table_args__ = (UniqueConstraint("event_id", "actor", "cid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    actor: Mapped[str] = mapped_column(String(32))
    cid: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class QuestionVote(Base):
    __tablename__ = "question_votes"

    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    question_id: Mapped[int] = mapped_column(primary_key=True)
    voter: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class PollBallot(Base):
    """An attendee's current ballot in a poll: the chosen option ids, replaced by a new ballot while
    the poll is open. The voter is kept to allow one ballot per attendee and a change of mind; for
    an anonymous poll no view and no report ever shows it (docs/protocol.md, Polls)."""

    __tablename__ = "poll_ballots"

    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    poll_id: Mapped[int] = mapped_column(primary_key=True)
    voter: Mapped[str] = mapped_column(String(32), primary_key=True)
    option_ids: Mapped[list[Any]]
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Presence(Base):
    """One websocket connection of an attendee: the half-open interval [started_at, ended_at)."""

    __tablename__ = "presences"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registrations.id", ondelete="CASCADE"), index=True)
    connection_id: Mapped[str] = mapped_column(String(36), unique=True)
    server_id: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    ended_at: Mapped[datetime | None] = mapped_column(index=True)


# --- reminders ----------------------------------------------------------------------------------------


class ReminderSchedule(Base):
    """An event's reminder schedule when it is not the default: minutes before each morning, per audience."""

    __tablename__ = "reminder_schedules"

    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    offsets: Mapped[dict[str, Any]]  # {"attendees": [1440, 15], "speakers": [1440, 45]}
    source: Mapped[str] = mapped_column(String(16), default="programme")  # programme | organiser
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ReminderDelivery(Base):
    """One reminder to one person: the unique key makes it exist once; the status is claimed before sending.

    pending -> sending (claimed, with a token and a lease) -> sent | pending (temporary failure, later)
    | failed (permanent) | expired (its morning started first) | cancelled (registration revoked).
    """

    __tablename__ = "reminder_deliveries"
    __table_args__ = (
        UniqueConstraint("recipient", "event_id", "day_id", "kind"),
        CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed', 'expired', 'cancelled')", name="status"),
        Index("ix_reminder_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        # mails about no morning (confirmation, lost link, an organiser's message): one per recipient and kind
        Index(
            "ux_reminder_deliveries_undated",
            "recipient",
            "event_id",
            "kind",
            unique=True,
            sqlite_where=text("day_id IS NULL"),
            postgresql_where=text("day_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(String(300))  # "reg:<registration id>" or "mail:<lower-case email>"
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    # None for mails about no one morning: "confirmation", "link", "message-<mailing id>"
    day_id: Mapped[int | None] = mapped_column(ForeignKey("days.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # "attendees-24h", "speakers-45m", "confirmation", ...
    registration_id: Mapped[int | None] = mapped_column(ForeignKey("registrations.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(8))
    timezone: Mapped[str | None] = mapped_column(String(64))
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    enqueued_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    claim_token: Mapped[str | None] = mapped_column(String(32))
    first_attempt_at: Mapped[datetime | None]  # the mail's Date: the same on every resend of one copy
    sent_at: Mapped[datetime | None]
    resends: Mapped[int] = mapped_column(default=0)  # organiser resends; each one is a new Message-ID
    message_id: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReminderBatch(Base):
    """When one reminder of one morning first came due and its recipients were chosen.

    Recipients are added only for a short while after `opened_at`: after that, the reminder is past and
    someone who registers (or is added to the programme) later gets only the reminders still ahead.
    """

    __tablename__ = "reminder_batches"

    day_id: Mapped[int] = mapped_column(ForeignKey("days.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    opened_at: Mapped[datetime]


class ReminderCalendarVersion(Base):
    """The .ics SEQUENCE of a morning: it goes up by one whenever the morning's times change."""

    __tablename__ = "reminder_calendar_versions"

    day_id: Mapped[int] = mapped_column(ForeignKey("days.id", ondelete="CASCADE"), primary_key=True)
    sequence: Mapped[int] = mapped_column(default=0)
    fingerprint: Mapped[str] = mapped_column(String(64))


class Mailing(Base):
    """An organiser's message to a chosen audience of an event: one delivery per recipient
    (``reminder_deliveries`` with kind ``message-<id>``); see docs/workers.md."""

    __tablename__ = "mailings"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    subject: Mapped[dict[str, Any]]  # language -> subject
    body: Mapped[dict[str, Any]]  # language -> text
    audience: Mapped[dict[str, Any]]  # {"kind": "everyone" | "category" | ..., "category"?, "language"?, "day"?}
    recipients: Mapped[int]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]


class LostLinkRequest(Base):
    """One "I lost my link" request, known address or not: what the request throttle counts, and what
    the workers' scan takes (``handled_at``) to mail a registered address its link."""

    __tablename__ = "lost_link_requests"
    __table_args__ = (
        Index("ix_lost_link_requests_email_at", "email", "at"),
        Index("ix_lost_link_requests_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    address: Mapped[str] = mapped_column(String(64))
    handled_at: Mapped[datetime | None] = mapped_column(index=True)


# --- certificates of attendance (docs/certificates.md) --------------------------------------------------


class Certificate(Base):
    """A certificate of attendance as printed: one per attendee per scope (a morning ``YYYY-MM-DD`` or
    ``event``) whose report says they attended. ``code`` is random (100 bits), kept across re-issues,
    and is what ``GET /verify/{code}`` looks up; the other columns are exactly what the PDF shows."""

    __tablename__ = "certificates"
    __table_args__ = (UniqueConstraint("event_id", "registration_id", "scope"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registrations.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str] = mapped_column(String(2))
    event_title: Mapped[str] = mapped_column(String(500))
    first_day: Mapped[date]
    last_day: Mapped[date]
    minutes: Mapped[float]
    threshold: Mapped[float]
    issued_at: Mapped[datetime]


class CertificateBatch(Base):
    """That the certificates of one scope of an event were issued (even none), when, and how many."""

    __tablename__ = "certificate_batches"

    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    scope: Mapped[str] = mapped_column(String(10), primary_key=True)
    issued_at: Mapped[datetime]
    count: Mapped[int] = mapped_column(default=0)
    threshold: Mapped[float]
