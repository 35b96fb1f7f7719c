"""Attendance: merging presence intervals, clipping to a segment, totals, concurrency."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.core.attendance import (
    Interval,
    Peak,
    clip,
    concurrent_per_minute,
    merge,
    peak_concurrent,
    seconds_present,
    share_of,
)

T = datetime(2022, 2, 28, 14, 0, tzinfo=UTC)


def s(seconds: float) -> datetime:
    return T + timedelta(seconds=seconds)


def iv(start: float, end: float) -> Interval:
    return Interval(s(start), s(end))


def test_overlapping_and_touching_intervals_merge_and_empty_ones_vanish() -> None:
    assert merge([iv(10, 20), iv(0, 5), iv(5, 8), iv(15, 30), iv(40, 40), iv(50, 60)]) == [
        iv(0, 8),
        iv(10, 30),
        iv(50, 60),
    ]
    assert merge([]) == []
    assert merge([iv(0, 100), iv(10, 20)]) == [iv(0, 100)]


def test_intervals_must_be_aware_and_forward() -> None:
    with pytest.raises(ValueError):
        Interval(datetime(2022, 1, 1), datetime(2022, 1, 2))  # noqa: DTZ001 - naive on purpose: refused
    with pytest.raises(ValueError):
        iv(10, 5)


def test_two_tabs_count_once() -> None:
    tabs = [iv(0, 600), iv(300, 900)]
    assert seconds_present(tabs) == 900


def test_clip_and_share_of_a_segment() -> None:
    presence = [iv(0, 600), iv(1200, 2400)]
    assert clip(presence, s(300), s(1800)) == [iv(300, 600), iv(1200, 1800)]
    assert share_of(presence, s(300), s(1800)) == pytest.approx(900 / 1500)
    assert share_of(presence, s(3000), s(3600)) == 0.0
    assert share_of(presence, s(100), s(100)) == 0.0


def test_concurrent_per_minute_counts_people_present_during_each_minute() -> None:
    people = {
        "ana": [iv(0, 90), iv(100, 110)],  # minutes 0, 1
        "ben": [iv(60, 120)],  # minute 1 only: its end is not in
        "cy": [iv(170, 400)],  # minutes 2..3, clipped at 240
    }
    counts = concurrent_per_minute(people, s(0), s(240))
    assert [c.present for c in counts] == [1, 2, 1, 1]
    assert counts[2].minute == s(120)
    assert concurrent_per_minute(people, s(10), s(10)) == []


def test_peak_concurrent_is_half_open() -> None:
    people = {"ana": [iv(0, 60)], "ben": [iv(60, 120)], "cy": [iv(30, 90), iv(50, 70)]}
    assert peak_concurrent(people) == Peak(2, s(30))
    assert peak_concurrent({}) == Peak(0, None)
    assert peak_concurrent(people, s(100), s(200)) == Peak(1, s(100))


# -- properties -----------------------------------------------------------------------------------

intervals = st.lists(
    st.tuples(st.integers(0, 600), st.integers(0, 300)).map(lambda t: iv(t[0], t[0] + t[1])), max_size=12
)


def covered(items: list[Interval]) -> set[int]:
    """The whole seconds covered (intervals here have whole-second bounds)."""
    return {t for i in items for t in range(int((i.start - T).total_seconds()), int((i.end - T).total_seconds()))}


@settings(max_examples=200)
@given(intervals, st.randoms())
def test_merge_is_idempotent_order_independent_and_covers_the_same(items: list[Interval], rnd: random.Random) -> None:
    merged = merge(items)
    assert merge(merged) == merged
    shuffled = items[:]
    rnd.shuffle(shuffled)
    assert merge(shuffled) == merged
    assert covered(merged) == covered(items)
    for a, b in zip(merged, merged[1:], strict=False):
        assert a.end < b.start  # disjoint and not touching
    assert seconds_present(items) == len(covered(items))
    if items:
        span = (max(i.end for i in items) - min(i.start for i in items)).total_seconds()
        assert seconds_present(items) <= span


@settings(max_examples=200)
@given(intervals, st.integers(0, 900), st.integers(0, 900))
def test_clip_stays_within_the_bounds(items: list[Interval], a: int, b: int) -> None:
    low, high = s(min(a, b)), s(max(a, b))
    clipped = clip(items, low, high)
    assert all(low <= i.start < i.end <= high for i in clipped)
    assert covered(clipped) == {t for t in covered(items) if min(a, b) <= t < max(a, b)}
    assert 0.0 <= share_of(items, low, high) <= 1.0


@settings(max_examples=100)
@given(st.dictionaries(st.integers(0, 5), intervals, max_size=5))
def test_concurrency_matches_a_brute_force_count(people: dict[int, list[Interval]]) -> None:
    presence = [covered(items) for items in people.values()]
    counts = concurrent_per_minute(people, s(0), s(960))
    for index, count in enumerate(counts):
        minute = set(range(index * 60, index * 60 + 60))
        assert count.present == sum(1 for seconds in presence if seconds & minute)
    peak = peak_concurrent(people)
    brute = max((sum(1 for seconds in presence if t in seconds) for t in range(0, 1000)), default=0)
    assert peak.present == brute
    assert max((c.present for c in counts), default=0) >= peak.present
