"""The plain data a report is made of: what is read from the database, and the tables computed.

``ReportInput`` is everything the figures need, read once (``gather``); ``Report`` is what the
writers turn into files (``figures``). Both are plain dataclasses: no session, no I/O, so the
figures are tested against known truths and the writers against known tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from server.core.attendance import Interval
from server.core.languages import pick_text

Scope = str
"""``"YYYY-MM-DD"`` (one morning) or ``"event"`` (every morning that has begun)."""

EVENT_SCOPE = "event"
FORMATS = ("csv.zip", "xlsx", "pdf")
MEDIA_TYPES = {
    "csv.zip": "application/zip",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
DEFAULT_THRESHOLD = 0.5


def pick_title(title: dict[str, Any] | str | None) -> str:
    """The English title when there is one (reports are in English), else by the shared fallback
    order (server/core/languages.py)."""
    if isinstance(title, str):
        return title
    return pick_text(title, ["en"])[0]


# -- read from the database -------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentFacts:
    id: int
    key: str
    kind: str
    title: str
    day: date
    starts_at: datetime
    ends_at: datetime
    opened_at: datetime | None = None
    ended_at: datetime | None = None
    people: dict[int, str] = field(default_factory=dict)
    """Programme people of the segment by id (questions may be addressed to one)."""


@dataclass(frozen=True)
class DayFacts:
    date: date
    starts_at: datetime
    ends_at: datetime
    title: str


@dataclass(frozen=True)
class Attendee:
    id: int
    name: str
    email: str
    organisation: str
    category: str
    country: str
    language: str
    created_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class SpeechFacts:
    id: int
    segment_id: int
    speaker_name: str
    organisation: str | None
    source: Literal["floor", "programme"]
    started_at: datetime
    ended_at: datetime
    duration_s: float
    on_behalf_of: str | None = None
    topic: str | None = None
    point_of_order: bool = False
    registration_id: int | None = None
    """The attendee who requested the floor, when it was an attendee (from the event log's actor)."""


@dataclass(frozen=True)
class QuestionFacts:
    id: int
    segment_id: int
    text: str
    asked_at: datetime
    asker_name: str
    asker_organisation: str | None
    anonymous: bool
    status: str
    """Final status: pending, approved, answered, archived or dismissed."""
    votes: int
    original_text: str | None = None
    addressed_to: str | None = None
    answered_at: datetime | None = None
    registration_id: int | None = None


@dataclass(frozen=True)
class Decision:
    """One moderation step on a question (or moderation switched on/off), who and when."""

    at: datetime
    action: str
    question_id: int | None
    by: str
    detail: str = ""


@dataclass(frozen=True)
class PollFacts:
    """An opened poll with its ballots (from ``poll_ballots``: the truth the live tallies come from).
    ``ballots`` pairs a registration id with the option ids chosen; the tables never print the
    registration of an anonymous poll's ballot, they only count by category."""

    id: int
    segment_id: int
    question: str
    choice: str
    anonymous: bool
    status: str
    """``open`` or ``closed``."""
    published: bool
    opened_at: datetime
    closed_at: datetime | None
    options: tuple[tuple[int, str], ...]
    ballots: tuple[tuple[int, tuple[int, ...]], ...] = ()


@dataclass(frozen=True)
class StatementFacts:
    """A written statement of a segment, as it stands: approved ones are published."""

    id: int
    segment_id: int
    author_name: str
    organisation: str | None
    on_behalf_of: str | None
    language: str
    text: str
    status: str
    """pending, approved or rejected."""
    submitted_at: datetime
    decided_at: datetime | None = None


@dataclass
class ReportInput:
    event_id: int
    slug: str
    title: str
    zone: ZoneInfo
    days: list[DayFacts]
    segments: list[SegmentFacts]
    attendees: dict[int, Attendee]
    presences: dict[int, list[Interval]]
    """Merged-or-not raw intervals by registration id; open ones already closed at ``now``."""
    speeches: list[SpeechFacts]
    questions: list[QuestionFacts]
    decisions: list[Decision]
    polls: list[PollFacts] = field(default_factory=list)
    statements: list[StatementFacts] = field(default_factory=list)


# -- computed ---------------------------------------------------------------------------------------

ColumnKind = Literal["text", "int", "number", "percent", "local", "utc", "bool", "date"]


@dataclass(frozen=True)
class Column:
    key: str
    """Machine name: the CSV header."""
    title: str
    """Human header: XLSX and PDF."""
    kind: ColumnKind = "text"


@dataclass
class Table:
    name: str
    """File name in the zip (``<name>.csv``) and sheet name (at most 31 characters)."""
    title: str
    columns: list[Column]
    rows: list[tuple[Any, ...]]


@dataclass(frozen=True)
class MorningTimeline:
    """The per-minute count of one morning, for the chart and the dashboard."""

    day: date
    start: datetime
    end: datetime
    minutes: list[tuple[datetime, int]]
    segments: list[tuple[str, datetime, datetime]]
    """(key, start, end) of each segment as it ran, for the chart's bands."""


@dataclass
class Report:
    slug: str
    event_title: str
    scope: Scope
    scope_label: str
    zone: ZoneInfo
    as_of: datetime
    """Where the report stops: the end of the last morning, or now while one is running."""
    complete: bool
    """True once every morning of the scope is over: the content will not change any more."""
    summary: list[tuple[str, str, Any]]
    """(key, label, value) rows of the summary sheet."""
    tables: list[Table]
    timelines: list[MorningTimeline]
    threshold: float

    def table(self, name: str) -> Table:
        return next(t for t in self.tables if t.name == name)

    def summary_value(self, key: str) -> Any:
        return next(value for k, _, value in self.summary if k == key)
