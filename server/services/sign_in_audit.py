"""The audit of staff sign-ins, and the throttle that reads it.

Every staff sign-in attempt is one row of ``sign_in_attempts``: who (the email as typed, and the
account when it exists), when, from which address, how (password or one-time link) and how it ended
(success, failure, throttled; ``reset`` rows are written by ``parley users unlock``). The throttle is a
sliding window over the same rows, so it holds across server processes and replicas with no Redis:

- per account: at most ``per_account`` failed password sign-ins within ``window``; a success (or an
  unlock) starts the count again;
- per client address: at most ``per_address`` failures within ``window``, whatever the accounts;
  only an unlock of the address starts it again (an attacker's own valid account must not).

Past a limit, attempts are refused before the password is checked, until the oldest counted failure
leaves the window. Refused attempts are recorded (``throttled``) but not counted, so the wait never
grows while someone keeps knocking. See docs/security.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from server.adapters.db.models import SignInAttempt

Method = Literal["password", "link", "cli"]
Outcome = Literal["success", "failure", "throttled", "reset"]


@dataclass(frozen=True)
class Limits:
    window: timedelta
    per_account: int
    per_address: int


def normalise_email(email: str) -> str:
    return email.strip().lower()[:254]


async def record(
    session: AsyncSession,
    *,
    now: datetime,
    email: str,
    address: str,
    method: Method,
    outcome: Outcome,
    user_id: int | None = None,
) -> None:
    session.add(
        SignInAttempt(
            at=now,
            email=normalise_email(email),
            user_id=user_id,
            address=address[:64],
            method=method,
            outcome=outcome,
        )
    )
    await session.flush()


async def _failures_since(
    session: AsyncSession,
    column: InstrumentedAttribute[str],
    value: str,
    restart: tuple[str, ...],
    now: datetime,
    window: timedelta,
) -> list[datetime]:
    """Instants of the password failures for ``column == value`` inside the window and after the last
    row whose outcome is in ``restart``, newest first."""
    C = SignInAttempt
    last_restart = await session.scalar(select(func.max(C.at)).where(column == value, C.outcome.in_(restart)))
    since = max(now - window, last_restart) if last_restart is not None else now - window
    rows = await session.scalars(
        select(C.at)
        .where(column == value, C.method == "password", C.outcome == "failure", C.at > since)
        .order_by(C.at.desc())
    )
    return list(rows)


async def retry_after(session: AsyncSession, *, email: str, address: str, limits: Limits, now: datetime) -> int | None:
    """Seconds until a password sign-in for ``email`` from ``address`` may be tried again, or None."""
    waits = []
    for column, value, limit, restart in (
        (SignInAttempt.email, normalise_email(email), limits.per_account, ("success", "reset")),
        (SignInAttempt.address, address[:64], limits.per_address, ("reset",)),
    ):
        failures = await _failures_since(session, column, value, restart, now, limits.window)
        if len(failures) >= limit:
            # the wait ends when the limit-th newest failure leaves the window
            waits.append((failures[limit - 1] + limits.window - now).total_seconds())
    if not waits:
        return None
    return max(1, math.ceil(max(waits)))
