"""The registrations of one event as its organisers see them: the list with its search, and one of them.

Callers have already checked access (``server.services.access``); these queries only keep to the event.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.adapters.db.models import Registration

SEARCHED_FIELDS = ("name", "email", "organisation", "country")


class RegistrationNotFound(LookupError):
    pass


def matches(registration: Registration, query: str) -> bool:
    """Case-insensitive substring search in name, email, organisation and country."""
    needle = query.strip().lower()
    return not needle or any(needle in str(getattr(registration, f) or "").lower() for f in SEARCHED_FIELDS)


async def registrations_of(session: AsyncSession, event_id: int, query: str = "") -> list[Registration]:
    """The event's registrations in registration order, those matching ``query`` when one is given."""
    rows = (
        await session.execute(select(Registration).where(Registration.event_id == event_id).order_by(Registration.id))
    ).scalars()
    return [r for r in rows if matches(r, query)]


async def registration_of(session: AsyncSession, event_id: int, registration_id: int) -> Registration:
    """One registration of the event; ``RegistrationNotFound`` when it is unknown or of another event."""
    registration = await session.get(Registration, registration_id)
    if registration is None or registration.event_id != event_id:
        raise RegistrationNotFound(registration_id)
    return registration
