"""Attendance from presence intervals: pure arithmetic on half-open ``[start, end)`` intervals.

Every websocket connection of a person is an interval (its end is the last heartbeat when the
connection died without a goodbye). Several tabs and reconnects overlap or touch: ``merge`` makes
one presence per person out of them, so nobody is counted twice. Everything else works on merged
intervals. Not part of the live state: the service stores the intervals, reports read them.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple, TypeVar

MINUTE = timedelta(minutes=1)
K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True, order=True)
class Interval:
    """``[start, end)`` between two aware instants; ``start == end`` is empty."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.utcoffset() is None or self.end.utcoffset() is None:
            raise ValueError("interval bounds must be aware datetimes")
        if self.end < self.start:
            raise ValueError("an interval cannot end before it starts")

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


class MinuteCount(NamedTuple):
    minute: datetime
    """Start of the minute bucket ``[minute, minute + 1 min)`` (the last one may be shorter)."""
    present: int


class Peak(NamedTuple):
    present: int
    at: datetime | None
    """The first instant the peak was reached (None when nobody was ever present)."""


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, disjoint, non-touching, non-empty intervals covering the same instants."""
    merged: list[Interval] = []
    for interval in sorted(i for i in intervals if i.end > i.start):
        if merged and interval.start <= merged[-1].end:
            last = merged[-1]
            if interval.end > last.end:
                merged[-1] = Interval(last.start, interval.end)
        else:
            merged.append(interval)
    return merged


def clip(intervals: Iterable[Interval], start: datetime, end: datetime) -> list[Interval]:
    """The merged intervals cut to ``[start, end)``."""
    if end <= start:
        return []
    return [Interval(max(i.start, start), min(i.end, end)) for i in merge(intervals) if i.end > start and i.start < end]


def seconds_present(intervals: Iterable[Interval]) -> float:
    """Total time covered, overlaps counted once."""
    return sum(interval.seconds for interval in merge(intervals))


def share_of(intervals: Iterable[Interval], segment_start: datetime, segment_end: datetime) -> float:
    """The fraction (0..1) of ``[segment_start, segment_end)`` covered; 0 for an empty segment."""
    span = (segment_end - segment_start).total_seconds()
    if span <= 0:
        return 0.0
    return min(1.0, seconds_present(clip(intervals, segment_start, segment_end)) / span)


def concurrent_per_minute(
    intervals_by_person: Mapping[K, Iterable[Interval]], start: datetime, end: datetime
) -> list[MinuteCount]:
    """For each minute of ``[start, end)``: how many people were present at some time in it.

    A person counts once per minute, however many tabs or reconnects they had in it.
    """
    if end <= start:
        return []
    buckets = math.ceil((end - start) / MINUTE)
    delta = [0] * (buckets + 1)
    for intervals in intervals_by_person.values():
        next_free = 0  # merged intervals may share a bucket: count the person once in it
        for interval in clip(intervals, start, end):
            first = max(next_free, math.floor((interval.start - start) / MINUTE))
            last = math.ceil((interval.end - start) / MINUTE)  # exclusive: the end is not in
            if first < last:
                delta[first] += 1
                delta[last] -= 1
                next_free = last
    counts: list[MinuteCount] = []
    present = 0
    for index in range(buckets):
        present += delta[index]
        counts.append(MinuteCount(start + index * MINUTE, present))
    return counts


def peak_concurrent(
    intervals_by_person: Mapping[K, Iterable[Interval]],
    start: datetime | None = None,
    end: datetime | None = None,
) -> Peak:
    """The largest number of people present at the same instant (within ``[start, end)`` if
    given), and when it was first reached. Half-open: one leaving at t and one joining at t are
    never present together."""
    changes: list[tuple[datetime, int]] = []
    for intervals in intervals_by_person.values():
        merged = merge(intervals)
        if start is not None or end is not None:
            low = start or min((i.start for i in merged), default=None)
            high = end or max((i.end for i in merged), default=None)
            merged = clip(merged, low, high) if low is not None and high is not None else []
        for interval in merged:
            changes.append((interval.start, +1))
            changes.append((interval.end, -1))
    changes.sort()  # at equal instants, -1 sorts before +1: leaving happens first
    best = Peak(0, None)
    present = 0
    for instant, change in changes:
        present += change
        if present > best.present:
            best = Peak(present, instant)
    return best
