"""The clock: where "now" comes from, chosen in one place and handed to whoever needs it.

The core never reads a clock (its functions take ``now``); the services, the live runtime and the
tasks get a ``Clock`` from what built them: the app's lifespan (``server.app``), the worker's
resources (``workers.celery_app``). ``clock_for(settings)`` is the only place that picks which
clock a process runs on, so a server, its workers and beat built from the same settings agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from config.settings import Settings, parse_clock_timeline


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


Piece = tuple[float, datetime] | tuple[float, datetime, float | None]


class ScaledClock:
    """Virtual time for a rehearsal: a pure function of the system clock, so every process given the
    same anchor, timeline and speed (``PARLEY_CLOCK_*``) reads the same instant without talking to
    the others.

    ``pieces`` are (real seconds after ``anchor``, virtual instant[, speed]): from each piece's real
    offset the clock shows its instant and runs that many times faster than real time (``speed``
    when the piece names none), until the next piece sets it forward (a jump over a night where
    nothing happens) or changes the pace (slower while a burst of reminders goes out). Before the
    anchor it stands at the first piece's instant. ``speed`` is also the fastest any piece runs:
    the spans the server compares with this clock (the idle timeout) are scaled by it.
    """

    def __init__(self, anchor: datetime, pieces: Sequence[Piece], speed: float) -> None:
        if not pieces or pieces[0][0] != 0:
            raise ValueError("a scaled clock needs a first piece at real offset 0")
        self.anchor = _aware_utc(anchor)
        self.pieces: list[tuple[float, datetime, float]] = [
            (p[0], _aware_utc(p[1]), (p[2] if len(p) > 2 and p[2] is not None else speed)) for p in pieces
        ]
        self.speed = max(speed, *(p[2] for p in self.pieces))
        if min(p[2] for p in self.pieces) < 1:
            raise ValueError("a scaled clock runs at least at real speed")
        for (offset, instant, pace), (next_offset, next_instant, _) in zip(self.pieces, self.pieces[1:], strict=False):
            reached = instant + timedelta(seconds=(next_offset - offset) * pace)
            if next_instant < reached - timedelta(milliseconds=1):
                raise ValueError(f"the piece at real offset {next_offset} s would set the clock back")

    def at(self, real: datetime) -> datetime:
        """The virtual instant at a real one."""
        elapsed = max(0.0, (real - self.anchor).total_seconds())
        offset, instant, pace = next((p for p in reversed(self.pieces) if p[0] <= elapsed), self.pieces[0])
        return instant + timedelta(seconds=(elapsed - offset) * pace)

    def real_at(self, virtual: datetime) -> datetime:
        """The first real instant the clock shows ``virtual`` (or the anchor for an earlier one); for
        a virtual instant jumped over, the real instant of the jump."""
        virtual = _aware_utc(virtual)
        for index, (offset, instant, pace) in enumerate(self.pieces):
            end = self.pieces[index + 1][0] if index + 1 < len(self.pieces) else None
            reach = (virtual - instant).total_seconds() / pace
            if reach <= 0:
                return self.anchor + timedelta(seconds=offset)
            if end is None or offset + reach < end:
                return self.anchor + timedelta(seconds=offset + reach)
        raise AssertionError("unreachable: the last piece runs forever")

    def now(self) -> datetime:
        return self.at(datetime.now(UTC))


def clock_for(settings: Settings) -> Clock:
    """The clock every process built from ``settings`` runs on: the system clock, or a rehearsal's
    scaled clock when ``PARLEY_CLOCK_ANCHOR`` and ``PARLEY_CLOCK_TIMELINE`` are set."""
    if settings.clock_anchor:
        return ScaledClock(
            parse_instant(settings.clock_anchor), parse_clock_timeline(settings.clock_timeline), settings.clock_speed
        )
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
