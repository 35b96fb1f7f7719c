"""Attendance figures: per attendee, per segment, by category and country, per minute, no-shows.

Definitions (docs/reports.md repeats them for organisers):

- Presence is the union of a person's connections (tabs and reconnects merged, ``core.attendance``),
  cut to the morning's window (``windows``). Minutes present = that union's length / 60, rounded to
  0.1 (half up); shares are computed on exact seconds and shown as percentages rounded to 0.1.
- Attended (yes/no): the share of the scope's windows present is at least the threshold.
- First join: the start of the first connection overlapping the morning (it may precede it); last
  leave: the end of the last one, or the end of the morning for whoever was still connected.
- A segment's unique attendees are those present in it at all; its average and median minutes are
  over them; its peak is the most people present at the same instant (``peak_concurrent``).
- Timeline: for each minute of a morning, how many people were present at some time in it
  (``concurrent_per_minute``), so it can exceed the instantaneous peak by those who swapped.
- No-shows: registered before the end of the scope, not revoked by then, never present in it.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from server.core.attendance import Interval, clip, concurrent_per_minute, merge, peak_concurrent
from server.services.reports.model import Attendee, Column, MorningTimeline, ReportInput, Table
from server.services.reports.windows import MorningWindow, Span

ALL = "(all)"


def round1(value: float) -> float:
    """Half up to one decimal (deterministic, unlike ``round`` on binary halves)."""
    return math.floor(value * 10 + 0.5) / 10


def minutes(seconds: float) -> float:
    return round1(seconds / 60)


def percent(fraction: float) -> float:
    return round1(fraction * 100)


def covered(merged: list[Interval]) -> float:
    """Seconds covered by intervals ``clip`` or ``merge`` returned (disjoint already: no re-merge,
    which ``seconds_present`` would do: a fifth of the build on 10,000 people)."""
    return sum(interval.seconds for interval in merged)


def floor_minute(instant: datetime) -> datetime:
    return instant.replace(second=0, microsecond=0)


@dataclass
class PersonPresence:
    attendee: Attendee
    merged: list[Interval]
    by_window: list[list[Interval]]
    """The merged intervals cut to each window of the scope, in window order."""
    seconds: float
    first_join: datetime | None
    last_leave: datetime | None


@dataclass
class Attendance:
    windows: list[MorningWindow]
    people: dict[int, PersonPresence]
    """Everyone present at some time in the scope, by registration id."""
    scope_seconds: float
    threshold: float

    def segment_spans(self) -> list[tuple[int, MorningWindow, str, str, Span]]:
        """(segment id, window, key, title, span) of every segment of the scope, in order."""
        return [(s.id, w, s.key, s.title, span) for w in self.windows for s, span in w.segments]

    def share(self, person: PersonPresence) -> float:
        return min(1.0, person.seconds / self.scope_seconds) if self.scope_seconds > 0 else 0.0

    def attended(self, person: PersonPresence) -> bool:
        return self.scope_seconds > 0 and self.share(person) >= self.threshold


def presence_in(data: ReportInput, windows: list[MorningWindow], threshold: float) -> Attendance:
    people: dict[int, PersonPresence] = {}
    for registration_id, raw in data.presences.items():
        attendee = data.attendees.get(registration_id)
        if attendee is None:
            continue
        merged = merge(raw)
        by_window = [clip(merged, w.start, w.until) for w in windows]
        seconds = sum(covered(cut) for cut in by_window)
        if seconds <= 0:
            continue
        first: datetime | None = None
        last: datetime | None = None
        for window, cut in zip(windows, by_window, strict=True):
            if not cut:
                continue
            overlapping = [i for i in merged if i.end > window.start and i.start < window.until]
            first = min(first or overlapping[0].start, overlapping[0].start)
            leave = min(overlapping[-1].end, window.until)
            last = max(last or leave, leave)
        people[registration_id] = PersonPresence(attendee, merged, by_window, seconds, first, last)
    return Attendance(windows, people, sum(w.seconds for w in windows), threshold)


def segment_seconds(attendance: Attendance) -> dict[int, dict[int, float]]:
    """Seconds present per segment id, per registration id (only those present)."""
    result: dict[int, dict[int, float]] = {}
    window_index = {id(w): i for i, w in enumerate(attendance.windows)}
    for segment_id, window, _key, _title, span in attendance.segment_spans():
        index = window_index[id(window)]
        present: dict[int, float] = {}
        if span.seconds > 0:
            for registration_id, person in attendance.people.items():
                seconds = covered(clip(person.by_window[index], span.start, span.end))
                if seconds > 0:
                    present[registration_id] = seconds
        result[segment_id] = present
    return result


PERSON_COLUMNS = (
    Column("registration_id", "Registration", "int"),
    Column("name", "Name"),
    Column("email", "Email"),
    Column("organisation", "Organisation"),
    Column("category", "Category"),
    Column("country", "Country"),
    Column("language", "Language"),
)
"""Who a row is about, the same first columns in the attendee and no-show tables."""


def _sort_key(person: PersonPresence) -> tuple[str, str, int]:
    return (person.attendee.name.casefold(), person.attendee.email, person.attendee.id)


def attendee_table(attendance: Attendance, per_segment: Mapping[int, Mapping[int, float]], event_scope: bool) -> Table:
    spans = attendance.segment_spans()
    columns = [
        *PERSON_COLUMNS,
        Column("first_join_local", "First join (local)", "local"),
        Column("first_join_utc", "First join (UTC)", "utc"),
        Column("last_leave_local", "Last leave (local)", "local"),
        Column("last_leave_utc", "Last leave (UTC)", "utc"),
        Column("minutes_present", "Minutes present", "number"),
        Column("share_pct", "Share of the scope (%)", "percent"),
        Column("attended", f"Attended (≥ {percent(attendance.threshold):g}%)", "bool"),
    ]
    if event_scope:
        columns += [
            Column(f"minutes_{w.day.date.isoformat()}", f"Minutes {w.day.date.isoformat()}", "number")
            for w in attendance.windows
        ]
    columns += [Column(f"share_{key}_pct", f"Share of {key} (%)", "percent") for _, _, key, _, _ in spans]
    rows = []
    for person in sorted(attendance.people.values(), key=_sort_key):
        a = person.attendee
        row: list[object] = [
            a.id,
            a.name,
            a.email,
            a.organisation,
            a.category,
            a.country,
            a.language,
            person.first_join,
            person.first_join,
            person.last_leave,
            person.last_leave,
            minutes(person.seconds),
            percent(attendance.share(person)),
            attendance.attended(person),
        ]
        if event_scope:
            row += [minutes(covered(cut)) for cut in person.by_window]
        for segment_id, _, _, _, span in spans:
            seconds = per_segment[segment_id].get(a.id, 0.0)
            row.append(percent(min(1.0, seconds / span.seconds)) if span.seconds > 0 else None)
        rows.append(tuple(row))
    return Table("attendees", "Attendees", columns, rows)


def _average_median(values: Iterable[float]) -> tuple[float | None, float | None]:
    values = list(values)
    if not values:
        return None, None
    return minutes(statistics.fmean(values)), minutes(statistics.median(values))


def segment_table(attendance: Attendance, per_segment: Mapping[int, Mapping[int, float]]) -> Table:
    columns = [
        Column("segment", "Segment"),
        Column("title", "Title"),
        Column("morning", "Morning", "date"),
        Column("start_local", "Start (local)", "local"),
        Column("start_utc", "Start (UTC)", "utc"),
        Column("end_local", "End (local)", "local"),
        Column("end_utc", "End (UTC)", "utc"),
        Column("minutes", "Minutes", "number"),
        Column("unique_attendees", "Unique attendees", "int"),
        Column("attended", f"Attended (≥ {percent(attendance.threshold):g}%)", "int"),
        Column("peak_concurrent", "Peak concurrent", "int"),
        Column("peak_at_local", "Peak at (local)", "local"),
        Column("average_minutes", "Average minutes", "number"),
        Column("median_minutes", "Median minutes", "number"),
    ]
    rows = []
    window_index = {id(w): i for i, w in enumerate(attendance.windows)}
    for segment_id, window, key, title, span in attendance.segment_spans():
        present = per_segment[segment_id]
        index = window_index[id(window)]
        peak = (
            peak_concurrent({rid: attendance.people[rid].by_window[index] for rid in present}, span.start, span.end)
            if present
            else None
        )
        average, median = _average_median(present.values())
        attended = sum(1 for s in present.values() if span.seconds > 0 and s / span.seconds >= attendance.threshold)
        rows.append(
            (
                key,
                title,
                window.day.date,
                span.start,
                span.start,
                span.end,
                span.end,
                minutes(span.seconds),
                len(present),
                attended,
                peak.present if peak else 0,
                peak.at if peak else None,
                average,
                median,
            )
        )
    return Table("segments", "Segments", columns, rows)


def group_table(
    attendance: Attendance, per_segment: Mapping[int, Mapping[int, float]], field: str, title: str
) -> Table:
    """Unique attendees, attended and average minutes by ``field`` (category or country), for the
    whole scope (``(all)``) and for each segment."""
    columns = [
        Column("segment", "Segment"),
        Column(field, title),
        Column("unique_attendees", "Unique attendees", "int"),
        Column("attended", f"Attended (≥ {percent(attendance.threshold):g}%)", "int"),
        Column("average_minutes", "Average minutes", "number"),
    ]
    rows: list[tuple[object, ...]] = []

    def add(segment: str, seconds_by_person: Mapping[int, float], span_seconds: float) -> None:
        groups: dict[str, list[float]] = defaultdict(list)
        for rid, seconds in seconds_by_person.items():
            groups[getattr(attendance.people[rid].attendee, field) or "(none)"].append(seconds)
        for value in sorted(groups, key=lambda v: (-len(groups[v]), v)):
            values = groups[value]
            attended = sum(1 for s in values if span_seconds > 0 and s / span_seconds >= attendance.threshold)
            rows.append((segment, value, len(values), attended, minutes(statistics.fmean(values))))

    add(ALL, {rid: p.seconds for rid, p in attendance.people.items()}, attendance.scope_seconds)
    for segment_id, _window, key, _title, span in attendance.segment_spans():
        add(key, per_segment[segment_id], span.seconds)
    return Table(f"by_{field}", f"By {field}", columns, rows)


def timelines(attendance: Attendance) -> list[MorningTimeline]:
    result = []
    for index, window in enumerate(attendance.windows):
        cut = {rid: p.by_window[index] for rid, p in attendance.people.items() if p.by_window[index]}
        counts = concurrent_per_minute(cut, floor_minute(window.start), window.until) if window.started else []
        segments = [(s.key, span.start, span.end) for s, span in window.segments if span.seconds > 0]
        result.append(
            MorningTimeline(
                window.day.date, window.start, window.until, [(c.minute, c.present) for c in counts], segments
            )
        )
    return result


def timeline_table(morning_timelines: list[MorningTimeline]) -> Table:
    columns = [
        Column("minute_local", "Minute (local)", "local"),
        Column("minute_utc", "Minute (UTC)", "utc"),
        Column("present", "Present", "int"),
        Column("segment", "Segment"),
    ]
    rows = []
    for timeline in morning_timelines:
        for minute, present in timeline.minutes:
            probe = max(minute, timeline.start)
            segment = next((key for key, start, end in timeline.segments if start <= probe < end), "")
            rows.append((minute, minute, present, segment))
    return Table("timeline", "Attendance per minute", columns, rows)


def no_show_table(data: ReportInput, attendance: Attendance) -> Table:
    end = max((w.until for w in attendance.windows), default=None)
    columns = [
        *PERSON_COLUMNS,
        Column("registered_local", "Registered (local)", "local"),
        Column("registered_utc", "Registered (UTC)", "utc"),
    ]
    rows = []
    if end is not None:
        for a in sorted(data.attendees.values(), key=lambda a: (a.name.casefold(), a.email, a.id)):
            if a.id in attendance.people or a.created_at >= end:
                continue
            if a.revoked_at is not None and a.revoked_at < end:
                continue
            rows.append(
                (a.id, a.name, a.email, a.organisation, a.category, a.country, a.language, a.created_at, a.created_at)
            )
    return Table("no_shows", "Registered, never joined", columns, rows)
