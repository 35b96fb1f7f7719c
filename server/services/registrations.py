"""Attendee registration: validated input, one registration per email and event, revocable join links."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.adapters.db.models import Event, Registration
from server.core.model.base import OneLineText
from server.services.accounts import EMAIL_RE
from server.services.auth import JoinLinks, end_registration_sessions, new_nonce
from server.services.mail.queue import queue_once
from server.services.reminders.notices import CONFIRMATION

Category = Literal["member_state", "un_system", "intergovernmental", "civil_society", "academia", "media", "other"]


class RegistrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: OneLineText = Field(min_length=1, max_length=200)
    email: OneLineText = Field(min_length=3, max_length=254)
    organisation: OneLineText = Field("", max_length=200)
    category: Category
    country: OneLineText = Field("", max_length=100)
    language: Literal["fr", "en", "es"] = "en"
    listed: bool = Field(False, description="Consent to appear in the participant list.")
    timezone: str | None = Field(None, max_length=64)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = value.lower()
        if not EMAIL_RE.fullmatch(value):
            raise ValueError("not an email address")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r}") from None
        return value or None


class AlreadyRegistered(Exception):
    pass


class UnknownEvent(LookupError):
    pass


async def register(
    session: AsyncSession, slug: str, data: RegistrationIn, links: JoinLinks, *, now: datetime
) -> tuple[Registration, str]:
    found = (await session.execute(select(Event.id, Event.languages).where(Event.slug == slug))).one_or_none()
    if found is None:
        raise UnknownEvent(slug)
    event_id, languages = found
    # created_at from the clock, not the column default: the reminder rules compare it with due instants
    registration = Registration(event_id=event_id, join_nonce=new_nonce(), created_at=now, **data.model_dump())
    session.add(registration)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise AlreadyRegistered(data.email) from None
    # the confirmation (with the join link and the mornings' calendar): one per registration, in this
    # transaction, so every way of registering sends it exactly once; the workers send it
    await queue_once(session, registration, languages, CONFIRMATION, now)
    return registration, links.make(registration)


async def revoke(session: AsyncSession, registration_id: int, *, now: datetime) -> None:
    """Invalidate the join link and every session it opened (their sockets close within seconds)."""
    await session.execute(
        update(Registration).where(Registration.id == registration_id).values(join_nonce=new_nonce(), revoked_at=now)
    )
    await end_registration_sessions(session, registration_id, now=now)


async def reissue(session: AsyncSession, registration_id: int, links: JoinLinks, *, now: datetime) -> str:
    """A fresh join link for a registration: the old one stops working and, as a new link is issued
    because the old one leaked, every session the old link opened ends too (their sockets close with
    4401); only the new link signs in from now on. A revoked registration is reinstated."""
    registration = await session.get(Registration, registration_id)
    if registration is None:
        raise LookupError(registration_id)
    registration.join_nonce = new_nonce()
    registration.revoked_at = None
    await session.flush()
    await end_registration_sessions(session, registration_id, now=now)
    return links.make(registration)
