"""Who is asking: attendee registrations, join links, staff sign-in, web sessions.

Tokens are random and only their SHA-256 is stored, so a database leak gives no usable link.
Join links are additionally signed (itsdangerous) over the registration id and a nonce: a forged or
mistyped link is refused without a database read, and rotating the nonce revokes the link.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from anyio import to_thread
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.adapters.db.models import Event, EventRole, Registration, SignInLink, User, WebSession
from server.services import sign_in_audit
from server.services.accounts import verify_password
from server.services.sign_in_audit import Limits

SESSION_DAYS = 14
SIGN_IN_LINK_HOURS = 24

Role = Literal["attendee", "moderator", "organiser"]


class AuthError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """The signed-in party behind a request or a websocket."""

    session_id: int
    kind: Literal["attendee", "staff"]
    id: int  # registration id for attendees, user id for staff
    name: str
    email: str
    event_id: int | None = None  # attendees belong to one event
    organisation: str = ""
    category: str = ""
    language: str = "en"
    staff_roles: frozenset[tuple[int, str]] = field(default_factory=frozenset)  # (event_id, role)

    @property
    def actor_key(self) -> str:
        """Stable identity across tables: ``a:<registration>`` or ``u:<user>``."""
        return f"{'a' if self.kind == 'attendee' else 'u'}:{self.id}"

    def role_in(self, event_id: int) -> Role | None:
        if self.kind == "attendee":
            return "attendee" if self.event_id == event_id else None
        roles = {role for ev, role in self.staff_roles if ev == event_id}
        if "organiser" in roles:
            return "organiser"
        if "moderator" in roles:
            return "moderator"
        return None


class JoinLinks:
    def __init__(self, secret_key: str) -> None:
        self._serializer = URLSafeSerializer(secret_key, salt="parley.join")

    def make(self, registration: Registration) -> str:
        return str(self._serializer.dumps([registration.id, registration.join_nonce]))

    def read(self, token: str) -> tuple[int, str]:
        try:
            reg_id, nonce = self._serializer.loads(token)
            return int(reg_id), str(nonce)
        except (BadSignature, ValueError, TypeError):
            raise AuthError("invalid_link", "this join link is not valid") from None


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


async def _open_session(
    session: AsyncSession, *, now: datetime, user_id: int | None = None, registration_id: int | None = None
) -> str:
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            token_hash=token_hash(token),
            user_id=user_id,
            registration_id=registration_id,
            expires_at=now + timedelta(days=SESSION_DAYS),
        )
    )
    await session.flush()
    return token


async def join_with_link(
    session: AsyncSession, links: JoinLinks, token: str, *, now: datetime
) -> tuple[str, Registration]:
    reg_id, nonce = links.read(token)
    registration = await session.get(Registration, reg_id)
    if registration is None or registration.revoked_at is not None or registration.join_nonce != nonce:
        raise AuthError("revoked_link", "this join link has been revoked or replaced")
    return await _open_session(session, now=now, registration_id=registration.id), registration


async def peek_link(session: AsyncSession, links: JoinLinks, token: str) -> tuple[Registration, Event]:
    """What a GET of the link shows: who and which event, without using anything up."""
    reg_id, nonce = links.read(token)
    registration = await session.get(Registration, reg_id)
    if registration is None or registration.revoked_at is not None or registration.join_nonce != nonce:
        raise AuthError("revoked_link", "this join link has been revoked or replaced")
    event = await session.get(Event, registration.event_id)
    assert event is not None
    return registration, event


class SignInThrottled(AuthError):
    def __init__(self, retry_after: int) -> None:
        super().__init__("too_many_attempts", f"too many failed sign-ins: try again in {retry_after} s")
        self.retry_after = retry_after


async def sign_in_password(
    sessions: async_sessionmaker[AsyncSession],
    email: str,
    password: str,
    *,
    address: str,
    limits: Limits,
    now: datetime,
) -> str:
    """A session token, or AuthError (``SignInThrottled`` past a limit). Takes the session factory:
    the audit row of a failure must be committed although the sign-in fails."""
    async with sessions() as session, session.begin():
        wait = await sign_in_audit.retry_after(session, email=email, address=address, limits=limits, now=now)
        user = None
        if wait is None:
            user = await session.scalar(select(User).where(User.email == sign_in_audit.normalise_email(email)))
    # argon2 takes tens of milliseconds of CPU: off the event loop, and not while a transaction is open
    verified = wait is None and await to_thread.run_sync(
        verify_password, user.password_hash if user else None, password
    )
    async with sessions() as session, session.begin():
        outcome: sign_in_audit.Outcome = "throttled" if wait is not None else "success" if verified else "failure"
        await sign_in_audit.record(
            session,
            now=now,
            email=email,
            address=address,
            method="password",
            outcome=outcome,
            user_id=user.id if user else None,
        )
        if verified and user is not None:
            return await _open_session(session, now=now, user_id=user.id)
    if wait is not None:
        raise SignInThrottled(wait)
    raise AuthError("bad_credentials", "unknown email or wrong password")


async def create_sign_in_link(session: AsyncSession, user_id: int, *, now: datetime) -> str:
    token = secrets.token_urlsafe(32)
    session.add(
        SignInLink(token_hash=token_hash(token), user_id=user_id, expires_at=now + timedelta(hours=SIGN_IN_LINK_HOURS))
    )
    await session.flush()
    return token


async def sign_in_with_link(session: AsyncSession, token: str, *, now: datetime, address: str = "") -> str:
    result = await session.execute(
        update(SignInLink)
        .where(SignInLink.token_hash == token_hash(token), SignInLink.used_at.is_(None), SignInLink.expires_at > now)
        .values(used_at=now)
        .returning(SignInLink.user_id)
    )
    user_id = result.scalar_one_or_none()
    if user_id is None:
        raise AuthError("invalid_link", "this sign-in link is unknown, used or expired")
    email = await session.scalar(select(User.email).where(User.id == user_id))
    # a success starts the account's failure count again: a one-time link is how a throttled account gets in
    await sign_in_audit.record(
        session, now=now, email=email or "", address=address, method="link", outcome="success", user_id=user_id
    )
    return await _open_session(session, now=now, user_id=user_id)


async def end_registration_sessions(session: AsyncSession, registration_id: int, *, now: datetime) -> None:
    """End every session a registration's join links opened. Each server's re-check of its open
    sockets (every few seconds) then closes theirs with 4401, in every deployment mode."""
    await session.execute(
        update(WebSession)
        .where(WebSession.registration_id == registration_id, WebSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def sign_out(session: AsyncSession, session_id: int, *, now: datetime) -> None:
    await session.execute(update(WebSession).where(WebSession.id == session_id).values(revoked_at=now))


async def principal_for_token(session: AsyncSession, token: str, *, now: datetime) -> Principal | None:
    web = (
        await session.execute(select(WebSession).where(WebSession.token_hash == token_hash(token)))
    ).scalar_one_or_none()
    if web is None or web.revoked_at is not None or web.expires_at <= now:
        return None
    return await _principal(session, web)


async def principal_for_session(session: AsyncSession, web: WebSession) -> Principal | None:
    """The principal of a live ``web`` session already read (``services/joins.py`` reads many at once)."""
    return await _principal(session, web)


async def _principal(session: AsyncSession, web: WebSession) -> Principal | None:
    if web.registration_id is not None:
        reg = await session.get(Registration, web.registration_id)
        if reg is None or reg.revoked_at is not None:
            return None
        return Principal(
            session_id=web.id,
            kind="attendee",
            id=reg.id,
            name=reg.name,
            email=reg.email,
            event_id=reg.event_id,
            organisation=reg.organisation,
            category=reg.category,
            language=reg.language,
        )
    assert web.user_id is not None
    user = await session.get(User, web.user_id)
    if user is None:
        return None
    roles = (
        await session.execute(select(EventRole.event_id, EventRole.role).where(EventRole.user_id == user.id))
    ).all()
    return Principal(
        session_id=web.id,
        kind="staff",
        id=user.id,
        name=user.name,
        email=user.email,
        staff_roles=frozenset((ev, role) for ev, role in roles),
    )


async def still_valid(session: AsyncSession, principals: list[Principal], event_id: int, *, now: datetime) -> set[int]:
    """Session ids among ``principals`` that still grant the same role on ``event_id``.

    Called every few seconds by each server process for its open sockets, so a sign-out, a revoked
    link or a removed role closes the socket wherever it is, in every deployment mode.
    """
    if not principals:
        return set()
    ids = [p.session_id for p in principals]
    live = set(  # the ids only: loading 10,000 session objects every few seconds was most of this check
        (
            await session.execute(
                select(WebSession.id).where(
                    WebSession.id.in_(ids), WebSession.revoked_at.is_(None), WebSession.expires_at > now
                )
            )
        ).scalars()
    )
    reg_ids = [p.id for p in principals if p.kind == "attendee" and p.session_id in live]
    ok_regs = (
        set(
            (
                await session.execute(
                    select(Registration.id).where(Registration.id.in_(reg_ids), Registration.revoked_at.is_(None))
                )
            ).scalars()
        )
        if reg_ids
        else set()
    )
    user_ids = [p.id for p in principals if p.kind == "staff" and p.session_id in live]
    roles = (
        {
            (user_id, role)
            for user_id, role in await session.execute(
                select(EventRole.user_id, EventRole.role).where(
                    EventRole.user_id.in_(user_ids), EventRole.event_id == event_id
                )
            )
        }
        if user_ids
        else set()
    )
    valid = set()
    for p in principals:
        if p.session_id not in live:
            continue
        if p.kind == "attendee" and p.id in ok_regs:
            valid.add(p.session_id)
        elif p.kind == "staff" and (p.id, p.role_in(event_id)) in roles:
            valid.add(p.session_id)
    return valid
