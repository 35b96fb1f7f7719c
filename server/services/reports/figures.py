"""From plain inputs to the report's summary and tables (pure: no database, no clock)."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime
from typing import Any

from server.core.attendance import peak_concurrent
from server.services.reports import attendance_tables as at
from server.services.reports import poll_tables as pt
from server.services.reports import session_tables as st
from server.services.reports.model import EVENT_SCOPE, Report, ReportInput
from server.services.reports.windows import MorningWindow


def scope_label(scope: str, windows: list[MorningWindow]) -> str:
    if scope == EVENT_SCOPE:
        return f"Whole event ({len(windows)} morning{'s' if len(windows) != 1 else ''})"
    day = windows[0].day
    return f"Morning of {day.date:%A} {day.date.day} {day.date:%B %Y}" + (f" – {day.title}" if day.title else "")


def _clock(instant: datetime, data: ReportInput) -> str:
    local = instant.astimezone(data.zone)
    return f"{local:%H:%M}"


def build_report(
    data: ReportInput, scope: str, windows: list[MorningWindow], complete: bool, *, threshold: float
) -> Report:
    attendance = at.presence_in(data, windows, threshold)
    per_segment = at.segment_seconds(attendance)
    morning_timelines = at.timelines(attendance)
    tables = [
        at.attendee_table(attendance, per_segment, event_scope=scope == EVENT_SCOPE),
        at.segment_table(attendance, per_segment),
        at.group_table(attendance, per_segment, "category", "Category"),
        at.group_table(attendance, per_segment, "country", "Country"),
        at.timeline_table(morning_timelines),
        at.no_show_table(data, attendance),
        st.speech_table(data, windows),
        st.question_table(data, windows),
        st.decision_table(data, windows),
        pt.poll_table(data, windows),
        pt.poll_category_table(data, windows),
        pt.named_ballot_table(data, windows),
        st.statement_table(data, windows),
    ]
    fallback = data.days[0].starts_at if data.days else datetime(1970, 1, 1, tzinfo=UTC)
    as_of = max((w.until for w in windows), default=fallback)
    report = Report(
        slug=data.slug,
        event_title=data.title,
        scope=scope,
        scope_label=scope_label(scope, windows) if windows else "No morning has begun",
        zone=data.zone,
        as_of=as_of,
        complete=complete,
        summary=[],
        tables=tables,
        timelines=morning_timelines,
        threshold=threshold,
    )
    report.summary = _summary(data, report, attendance, windows)
    return report


def _summary(
    data: ReportInput, report: Report, attendance: at.Attendance, windows: list[MorningWindow]
) -> list[tuple[str, str, Any]]:
    people = attendance.people
    seconds = [p.seconds for p in people.values()]
    no_shows = len(report.table("no_shows").rows)
    attended = sum(1 for p in people.values() if attendance.attended(p))
    peaks = []
    for index, window in enumerate(windows):
        cut = {rid: p.by_window[index] for rid, p in people.items() if p.by_window[index]}
        peaks.append(peak_concurrent(cut, window.start, window.until) if cut else None)
    best = max((p for p in peaks if p is not None), key=lambda p: p.present, default=None)
    speeches = report.table("speeches").rows
    floor = [row for row in speeches if row[2] == "floor"]
    questions = report.table("questions").rows
    statuses = [row[11] for row in questions]
    rows: list[tuple[str, str, Any]] = [
        ("event", "Event", data.title),
        ("scope", "Report", report.scope_label),
        ("time_zone", "Local time zone", str(data.zone)),
    ]
    for window in windows:
        span = f"{_clock(window.start, data)}–{_clock(window.until, data)}"
        utc = f"{window.start:%H:%M}–{window.until:%H:%M} UTC"
        how = " (ended by the moderator)" if window.closed_by_moderator else ""
        rows.append(
            (
                f"morning_{window.day.date.isoformat()}",
                f"Morning {window.day.date.isoformat()}",
                f"{span} local, {utc}{how}",
            )
        )
    rows += [
        (
            "complete",
            "Complete",
            "yes" if report.complete else f"no: morning in progress, figures up to {_clock(report.as_of, data)} local",
        ),
        ("threshold_pct", "Attendance threshold (% of the time)", at.percent(attendance.threshold)),
        ("registered", "Registered", len(people) + no_shows),
        ("joined", "Joined", len(people)),
        ("attended", "Attended (at or above the threshold)", attended),
        ("no_shows", "Registered, never joined", no_shows),
        ("peak_concurrent", "Peak concurrent attendees", best.present if best else 0),
        (
            "peak_at",
            "Peak reached at",
            f"{best.at.astimezone(data.zone):%Y-%m-%d %H:%M:%S} local" if best and best.at else "",
        ),
        (
            "average_minutes",
            "Average minutes present (of those who joined)",
            at.minutes(statistics.fmean(seconds)) if seconds else None,
        ),
        (
            "median_minutes",
            "Median minutes present (of those who joined)",
            at.minutes(statistics.median(seconds)) if seconds else None,
        ),
        ("floor_speeches", "Speeches from the floor", len(floor)),
        ("floor_minutes", "Minutes spoken from the floor", at.minutes(sum(row[14] for row in floor))),
        ("programme_speeches", "Speeches by programme speakers", len(speeches) - len(floor)),
        ("questions", "Questions asked", len(questions)),
        (
            "questions_published",
            "Questions published",
            sum(1 for s in statuses if s in ("approved", "answered", "archived")),
        ),
        ("questions_answered", "Questions answered", sum(1 for row in questions if row[12])),
        ("questions_dismissed", "Questions dismissed", statuses.count("dismissed")),
        ("questions_pending", "Questions left pending", statuses.count("pending")),
        ("votes", "Votes on questions", sum(row[14] for row in questions)),
        ("polls", "Polls opened", len({row[0] for row in report.table("polls").rows})),
        ("poll_ballots", "Ballots cast in polls", sum({row[0]: row[8] for row in report.table("polls").rows}.values())),
    ]
    statements = st.statement_counts(data, windows)
    rows += [
        ("statements_submitted", "Written statements submitted", statements["submitted"]),
        ("statements_approved", "Written statements approved", statements["approved"]),
        ("statements_rejected", "Written statements rejected", statements["rejected"]),
        ("statements_pending", "Written statements awaiting a decision", statements["pending"]),
    ]
    return rows
