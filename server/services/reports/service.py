"""Compile a report into files, find the reports that are due, and the dashboard's timeline.

The worker calls ``compile_report`` (on demand, and from the beat's ``due_scopes`` scan); the
server reads ``list_reports`` / ``report_path`` to serve files and ``day_timeline`` for the live
dashboard. Everything takes ``now`` so tests and the benchmark choose the clock, and ``stale_after``
(``attendance.presence_stale_after`` of the settings) so a report and the sweep agree on which open
presence rows are dead.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from server.adapters.db.models import Day, Event
from server.core.records import RecordError
from server.services.reports import attendance_tables as at
from server.services.reports import store
from server.services.reports.csv_zip import write_csv_zip
from server.services.reports.figures import build_report
from server.services.reports.gather import Programme, read_activity, read_presences, read_programme
from server.services.reports.model import (
    DEFAULT_THRESHOLD,
    EVENT_SCOPE,
    FORMATS,
    Attendee,
    Report,
    ReportInput,
)
from server.services.reports.pdf import write_pdf
from server.services.reports.windows import MorningWindow, morning_window, windows_for_scope
from server.services.reports.xlsx import write_xlsx

WRITERS = {"csv.zip": write_csv_zip, "xlsx": write_xlsx, "pdf": write_pdf}
log = logging.getLogger("parley.reports")


class UnknownScope(LookupError):
    pass


@dataclass
class Compiled:
    slug: str
    scope: str
    complete: bool
    files: dict[str, Path] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "scope": self.scope,
            "complete": self.complete,
            "files": {fmt: str(path) for fmt, path in self.files.items()},
        }


@contextlib.contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """One snapshot for every read of a report (REPEATABLE READ on PostgreSQL)."""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with Session(bind=connection) as session, session.begin():
            yield session


def build(
    session: Session,
    event_id: int,
    scope: str,
    *,
    now: datetime,
    stale_after: timedelta,
    threshold: float = DEFAULT_THRESHOLD,
) -> Report:
    """The report of ``scope`` as of ``now``; ``UnknownScope`` for a date that is not a morning."""
    programme = read_programme(session, event_id)
    try:
        windows, complete = windows_for_scope(scope, programme.days, programme.segments, now)
    except LookupError as exc:
        raise UnknownScope(str(exc)) from None
    since = min((w.start for w in windows), default=now)
    until = max((w.until for w in windows), default=now)
    data = read_activity(session, programme, since, until, now, stale_after=stale_after)
    return build_report(data, scope, windows, complete, threshold=threshold)


@contextlib.contextmanager
def scope_lock(data_dir: Path, slug: str, scope: str, *, wait: bool = True) -> Iterator[bool]:
    """An advisory lock per report, so two workers do not compile the same one at once (the files
    would be right anyway: this only saves the work). Yields False when ``wait`` is off and it is taken."""
    base = store.folder(data_dir, slug)
    base.mkdir(parents=True, exist_ok=True)
    with open(base / f".{scope}.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_report(report: Report, data_dir: Path, formats: tuple[str, ...] = FORMATS) -> dict[str, Path]:
    files = {}
    hashes = {}
    for fmt in formats:
        content = WRITERS[fmt](report)
        path = store.report_path(data_dir, report.slug, report.scope, fmt)
        store.write_atomic(path, content)
        files[fmt] = path
        hashes[fmt] = {"bytes": len(content), "sha256": hashlib.sha256(content).hexdigest()}
    store.write_manifest(
        data_dir,
        report.slug,
        report.scope,
        {
            "scope": report.scope,
            "complete": report.complete and set(formats) == set(FORMATS),
            "as_of": report.as_of.isoformat(),
            "threshold": report.threshold,
            "compiled_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "files": hashes,
        },
    )
    return files


def compile_report(
    engine: Engine,
    data_dir: Path,
    event_id: int,
    scope: str,
    *,
    now: datetime,
    stale_after: timedelta,
    threshold: float = DEFAULT_THRESHOLD,
    formats: tuple[str, ...] = FORMATS,
) -> Compiled:
    """Build the report and write its files atomically. Compiling again with nothing new gives
    byte-identical files."""
    with read_session(engine) as session:
        report = build(session, event_id, scope, now=now, stale_after=stale_after, threshold=threshold)
    with scope_lock(data_dir, report.slug, scope):
        files = write_report(report, data_dir, formats)
    return Compiled(report.slug, scope, report.complete, files)


def due_scopes(session: Session, data_dir: Path, now: datetime) -> list[tuple[int, str, str]]:
    """(event id, slug, scope) of every report to compile now: each morning that is over (by the
    clock, or its last segment ended by the moderator) and, once all are over, the whole event,
    unless already compiled complete."""
    due = []
    events = session.execute(select(Event.id, Event.slug)).all()
    for event_id, slug in events:
        if not store.SLUG_RE.fullmatch(slug):  # no folder can be made for it: skip, never crash the scan
            continue
        days = session.execute(select(Day.date).where(Day.event_id == event_id)).scalars().all()
        pending = [d.isoformat() for d in days if not store.is_complete(data_dir, slug, d.isoformat())]
        event_pending = bool(days) and not store.is_complete(data_dir, slug, EVENT_SCOPE)
        if not pending and not event_pending:
            continue
        try:
            programme = read_programme(session, event_id)
        except RecordError as exc:  # one event's unreadable record must not stop the others' reports
            log.error("reports of %s not scanned: %s", slug, exc)
            continue
        windows = {
            w.day.date.isoformat(): w for w in (morning_window(d, programme.segments, now) for d in programme.days)
        }
        for scope in pending:
            window = windows.get(scope)
            if window is not None and window.started and window.final:
                due.append((event_id, slug, scope))
        if event_pending and windows and all(w.final for w in windows.values()):
            due.append((event_id, slug, EVENT_SCOPE))
    return due


def scan_due(
    engine: Engine, data_dir: Path, *, now: datetime, stale_after: timedelta, threshold: float = DEFAULT_THRESHOLD
) -> list[Compiled]:
    """Compile every due report once; one that another worker is compiling right now is skipped
    (that worker finishes it, or the next scan does)."""
    with read_session(engine) as session:
        due = due_scopes(session, data_dir, now)
    done = []
    for event_id, slug, scope in due:
        with scope_lock(data_dir, slug, f"{scope}-scan", wait=False) as mine:
            if mine and not store.is_complete(data_dir, slug, scope):
                try:
                    done.append(
                        compile_report(
                            engine, data_dir, event_id, scope, now=now, stale_after=stale_after, threshold=threshold
                        )
                    )
                except RecordError as exc:  # named in the log; the next scan tries again, the others go on
                    log.error("report %s/%s not compiled: %s", slug, scope, exc)
    return done


# -- the organiser dashboard's live timeline -----------------------------------------------------------


@dataclass
class DayData:
    programme: Programme
    window: MorningWindow
    data: ReportInput


def read_day(session: Session, event_id: int, day: date, now: datetime, *, stale_after: timedelta) -> DayData:
    """What the dashboard timeline of one morning needs (``UnknownScope`` if it is not a morning)."""
    programme = read_programme(session, event_id)
    facts = next((d for d in programme.days if d.date == day), None)
    if facts is None:
        raise UnknownScope(f"no morning on {day.isoformat()}")
    window = morning_window(facts, programme.segments, now)
    presences = (
        read_presences(session, event_id, window.start, window.until, now, stale_after=stale_after)
        if window.started
        else {}
    )
    attendees = {rid: Attendee(rid, "", "", "", "", "", "", window.start) for rid in presences}
    data = ReportInput(
        event_id,
        programme.slug,
        programme.title,
        programme.zone,
        programme.days,
        programme.segments,
        attendees,
        presences,
        [],
        [],
        [],
    )
    return DayData(programme, window, data)


def day_timeline(day: DayData) -> dict[str, Any]:
    """``{"day", "minutes": [{"minute", "present"}], "segments": [{"id", "title", "unique_attendees", "peak"}]}``
    with minutes in the event's zone (ISO 8601 with offset)."""
    attendance = at.presence_in(day.data, [day.window], DEFAULT_THRESHOLD)
    per_segment = at.segment_seconds(attendance)
    timeline = at.timelines(attendance)[0]
    segments_table = at.segment_table(attendance, per_segment)
    peak_index = [c.key for c in segments_table.columns].index("peak_concurrent")
    zone = day.programme.zone
    return {
        "day": day.window.day.date.isoformat(),
        "minutes": [{"minute": m.astimezone(zone).isoformat(), "present": n} for m, n in timeline.minutes],
        "segments": [
            {"id": s.id, "title": s.title, "unique_attendees": len(per_segment[s.id]), "peak": row[peak_index]}
            for (s, _span), row in zip(day.window.segments, segments_table.rows, strict=True)
        ],
    }
