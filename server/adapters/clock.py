"""The clock: where "now" comes from, chosen in one place and handed to whoever needs it.

The core never reads a clock (its functions take ``now``); the services, the live runtime and the
tasks get a ``Clock`` from what built them: the app's lifespan (``server.app``), the worker's
resources (``workers.celery_app``). ``clock_for(settings)`` is the only place that picks which
clock a process runs on, so a server, its workers and beat built from the same settings agree.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from config.settings import Settings


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, an aware datetime in UTC."""
        ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that stands still until it is set or advanced: tests choose the instant instead of waiting."""

    def __init__(self, start: datetime) -> None:
        self._now = _aware_utc(start)

    def now(self) -> datetime:
        return self._now

    def set(self, instant: datetime) -> None:
        self._now = _aware_utc(instant)

    def advance(self, by: timedelta | float) -> datetime:
        """Move forward by ``by`` (a timedelta, or seconds) and return the new instant."""
        step = by if isinstance(by, timedelta) else timedelta(seconds=by)
        if step < timedelta(0):
            raise ValueError(f"a clock does not go back: advance by {step}")
        self._now += step
        return self._now


def clock_for(settings: Settings) -> Clock:
    """The clock every process built from ``settings`` runs on (the system clock, for now)."""
    del settings  # the choice will read a setting once there is more than one clock to run on
    return SystemClock()


def system_now() -> datetime:
    """The system clock as a plain function, for column defaults (SQLAlchemy calls them with no
    context). A timestamp a rule reads later is set by its service from the injected clock instead."""
    return datetime.now(UTC)


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant with its UTC offset (as tasks receive ``now``), in UTC; refuses a naive one."""
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset")
    return parsed.astimezone(UTC)


def _aware_utc(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError(f"{instant!r} is naive: give the clock an aware instant")
    return instant.astimezone(UTC)
