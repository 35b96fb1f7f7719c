"""Staff accounts: argon2id passwords, roles per event."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from server.adapters.db.models import Event, EventRole, User

EMAIL_RE = re.compile(r"[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{1,63}")
MIN_PASSWORD = 10
_hasher = PasswordHasher()  # argon2id with the library's current defaults


class UnknownEvent(LookupError):
    pass


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def grant_role(
    session: AsyncSession, *, email: str, name: str, slug: str, role: str, password: str | None
) -> bool:
    """Create the account if needed and give it ``role`` on the event. True when the account is new."""
    event_id = (await session.execute(select(Event.id).where(Event.slug == slug))).scalar_one_or_none()
    if event_id is None:
        raise UnknownEvent(slug)
    user = (
        await session.execute(select(User).where(User.email == email).options(selectinload(User.roles)))
    ).scalar_one_or_none()
    created = user is None
    if user is None:
        user = User(email=email, name=name or email.split("@")[0], roles=[])
        session.add(user)
    elif name:
        user.name = name
    if password is not None:
        user.password_hash = hash_password(password)
    if not any(r.event_id == event_id and r.role == role for r in user.roles):
        user.roles.append(EventRole(event_id=event_id, role=role))
    await session.flush()
    return created


async def revoke_role(session: AsyncSession, *, email: str, slug: str, role: str) -> bool:
    """Take ``role`` on the event away from the account; True when it had it. Its open sockets on
    that event close within seconds (the servers re-check roles)."""
    event_id = (await session.execute(select(Event.id).where(Event.slug == slug))).scalar_one_or_none()
    if event_id is None:
        raise UnknownEvent(slug)
    user_id = (await session.execute(select(User.id).where(User.email == email))).scalar_one_or_none()
    if user_id is None:
        return False
    result = await session.execute(
        delete(EventRole).where(EventRole.user_id == user_id, EventRole.event_id == event_id, EventRole.role == role)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
