"""Typed SQLAlchemy models. Instants are aware UTC (see ``UTCDateTime``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.adapters.db.base import Base, Timestamped

SEGMENT_KINDS = ("opening", "panel", "closing")
PERSON_ROLES = ("moderator", "speaker")
STAFF_ROLES = ("moderator", "organiser")


class Event(Timestamped, Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[dict[str, Any]]
    timezone: Mapped[str] = mapped_column(String(64))
    languages: Mapped[list[Any]]
    streams: Mapped[dict[str, Any]]
    source: Mapped[str] = mapped_column(Text, default="")

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
