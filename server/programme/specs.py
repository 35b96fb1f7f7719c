"""The frozen specs a programme file becomes: what the rest of Parley reads, never the YAML."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

SegmentKind = Literal["opening", "panel", "closing"]
KINDS: dict[str, SegmentKind] = {"opening": "opening", "panel": "panel", "closing": "closing"}
REMINDER_AUDIENCES = ("attendees", "speakers")  # the fields of ReminderSpec


@dataclass(frozen=True, slots=True)
class PersonSpec:
    name: str
    title: str | None = None
    affiliation: str | None = None
    video_message: bool = False
    email: str | None = None  # reminders reach programme people only through this

    def published_line(self, video_label: str = "message vidéo") -> str:
        """The line as a programme prints it: ``name, title[, affiliation][ (message vidéo)]``."""
        line = ", ".join(part for part in (self.name, self.title, self.affiliation) if part)
        return f"{line} ({video_label})" if self.video_message else line


@dataclass(frozen=True, slots=True)
class SegmentSpec:
    key: str
    kind: SegmentKind
    starts: dt.time
    ends: dt.time
    title: dict[str, str]
    moderator: PersonSpec | None
    speakers: tuple[PersonSpec, ...]
    line: int


@dataclass(frozen=True, slots=True)
class DaySpec:
    date: dt.date
    starts: dt.time
    ends: dt.time
    title: dict[str, str]
    theme: dict[str, str]  # empty when the file gives no theme
    segments: tuple[SegmentSpec, ...]  # in time order
    line: int


@dataclass(frozen=True, slots=True)
class ReminderSpec:
    """Minutes before each morning starts, per audience (attendees; moderators and speakers)."""

    attendees: tuple[int, ...] = (24 * 60, 15)
    speakers: tuple[int, ...] = (24 * 60, 45)


@dataclass(frozen=True, slots=True)
class ProgrammeSpec:
    slug: str
    title: dict[str, str]
    timezone: str
    languages: tuple[str, ...]  # the first is the original language
    streams: dict[str, str]
    days: tuple[DaySpec, ...]  # in date order
    source: str
    reminders: ReminderSpec | None = None  # None: the file says nothing (the default, or an organiser's edit)
    speaking_order: tuple[str, ...] | None = None  # categories for the list by category; None: as before

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local(self, date: dt.date, time: dt.time) -> dt.datetime:
        """An aware datetime for a wall-clock time of the event's time zone."""
        return dt.datetime.combine(date, time, tzinfo=self.zone)

    def day_bounds(self, day: DaySpec) -> tuple[dt.datetime, dt.datetime]:
        return self.local(day.date, day.starts), self.local(day.date, day.ends)

    def segment_bounds(self, day: DaySpec, segment: SegmentSpec) -> tuple[dt.datetime, dt.datetime]:
        return self.local(day.date, segment.starts), self.local(day.date, segment.ends)

    def segments(self) -> Iterator[tuple[DaySpec, SegmentSpec]]:
        """Every segment with its day, in time order."""
        for day in self.days:
            for segment in day.segments:
                yield day, segment

    def find_segment(self, key: str) -> tuple[DaySpec, SegmentSpec]:
        for day, segment in self.segments():
            if segment.key == key:
                return day, segment
        raise KeyError(key)
