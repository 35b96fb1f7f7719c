"""When a morning and its segments ran, as far as a report is concerned, and when a morning is over.

A segment counts from the moment the moderator opened it to the moment they ended it; one never
opened counts as scheduled. One left live (the moderator forgot to end it) counts until now, but at
most ``LIVE_SEGMENT_GRACE`` past its scheduled end, so a forgotten button does not stretch a report
forever and the report still becomes final.

A morning's window runs from the earlier of its scheduled start and its first segment's opening to
the later of its scheduled end and its segments' ends; when the moderator has ended its last
segment (by schedule) and nothing is live, the morning ends right there, early or late. A report
covers its windows up to ``now``; once ``now`` is past them (or the moderator closed the morning),
it is final and compiling again gives the same bytes.

Whatever the log says, a morning's window never leaves its day: it is clipped to ``REPORT_MARGIN_BEFORE``
before the day's scheduled start and ``REPORT_MARGIN_AFTER`` after its scheduled end (the opening
margin of the core's rule, plus the grace of a segment left live). A segment opened on another day
(before the rule existed, or in a rehearsal copy) adds nothing outside that: the report of one
morning stays a few hours of minutes, never years.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from server.core.stage import OPENING_MARGIN
from server.services.reports.model import DayFacts, SegmentFacts

LIVE_SEGMENT_GRACE = timedelta(hours=2)
REPORT_MARGIN_BEFORE = OPENING_MARGIN
REPORT_MARGIN_AFTER = OPENING_MARGIN + LIVE_SEGMENT_GRACE


@dataclass(frozen=True)
class Span:
    start: datetime
    end: datetime
    final: bool

    @property
    def seconds(self) -> float:
        return max(0.0, (self.end - self.start).total_seconds())


@dataclass(frozen=True)
class MorningWindow:
    day: DayFacts
    start: datetime
    end: datetime
    """Where the morning ends (possibly in the future)."""
    until: datetime
    """``min(end, now)``: what the report covers."""
    final: bool
    closed_by_moderator: bool
    segments: list[tuple[SegmentFacts, Span]]
    """Each segment's span as it ran, clipped to ``[start, until)`` (possibly empty)."""

    @property
    def started(self) -> bool:
        return self.until > self.start

    @property
    def seconds(self) -> float:
        return max(0.0, (self.until - self.start).total_seconds())


def segment_span(segment: SegmentFacts, now: datetime) -> Span:
    start = segment.opened_at or segment.starts_at
    if segment.ended_at is not None:
        return Span(start, max(start, segment.ended_at), True)
    if segment.opened_at is not None:  # live or paused
        cap = max(segment.ends_at, start) + LIVE_SEGMENT_GRACE
        return Span(start, max(start, min(now, cap)), now >= cap)
    return Span(start, segment.ends_at, True)


def morning_window(day: DayFacts, segments: list[SegmentFacts], now: datetime) -> MorningWindow:
    ordered = sorted((s for s in segments if s.day == day.date), key=lambda s: (s.starts_at, s.id))
    spans = [(s, segment_span(s, now)) for s in ordered]
    start = min([day.starts_at, *(span.start for _, span in spans)])
    live = [s for s in ordered if s.opened_at is not None and s.ended_at is None]
    closed = bool(ordered) and ordered[-1].ended_at is not None and not live
    if closed:
        end = max(s.ended_at for s in ordered if s.ended_at is not None)
        final = True
    else:
        end = max([day.ends_at, *(span.end for _, span in spans)])
        final = now >= end and all(span.final for _, span in spans)
    # never outside the day, whatever the log says (see the module's docstring)
    low = min([day.starts_at, *(s.starts_at for s in ordered)]) - REPORT_MARGIN_BEFORE
    high = max([day.ends_at, *(s.ends_at for s in ordered)]) + REPORT_MARGIN_AFTER
    start = min(max(start, low), high)
    end = min(end, high)
    final = final or now >= high
    end = max(end, start)
    until = max(start, min(end, now))
    clipped = []
    for segment, span in spans:
        low = min(max(span.start, start), until)
        clipped.append((segment, Span(low, max(low, min(span.end, until)), span.final)))
    return MorningWindow(day, start, end, until, final, closed, clipped)


def windows_for_scope(
    scope: str, days: list[DayFacts], segments: list[SegmentFacts], now: datetime
) -> tuple[list[MorningWindow], bool]:
    """The morning of a ``YYYY-MM-DD`` scope, or every morning that has begun for ``event``; and
    whether the scope is over (every one of its mornings final).

    Raises ``LookupError`` for a date that is not one of the event's mornings.
    """
    if scope == "event":
        windows = [morning_window(day, segments, now) for day in days]
        return [w for w in windows if w.started], all(w.final for w in windows)
    try:
        wanted = date.fromisoformat(scope)
    except ValueError:
        raise LookupError(f"no morning on {scope!r}") from None
    for day in days:
        if day.date == wanted:
            window = morning_window(day, segments, now)
            return [window], window.final
    raise LookupError(f"no morning on {scope}")
