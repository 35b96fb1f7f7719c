"""First start of the embedded default: one organiser and one moderator, with one-time sign-in links.

Only when the database has no account at all, and never in production, so a newcomer can try every
role at once and nobody can get a demo account on a real deployment.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.adapters.db.models import User
from server.services import accounts, auth

DEMO_ACCOUNTS = (
    ("organiser", "organiser@parley.localhost", "Demo organiser"),
    ("moderator", "moderator@parley.localhost", "Demo moderator"),
)


async def create_demo_staff(session: AsyncSession, slug: str, *, now: datetime) -> list[tuple[str, str, str]]:
    """(role, email, sign-in token) for each demo account created; empty when accounts exist."""
    if (await session.execute(select(func.count(User.id)))).scalar_one():
        return []
    created = []
    for role, email, name in DEMO_ACCOUNTS:
        await accounts.grant_role(session, email=email, name=name, slug=slug, role=role, password=None)
        user_id = (await session.execute(select(User.id).where(User.email == email))).scalar_one()
        created.append((role, email, await auth.create_sign_in_link(session, user_id, now=now)))
    return created
