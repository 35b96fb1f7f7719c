"""Who earned a certificate, read off a compiled report (pure).

There is no second computation of attendance: a certificate exists for exactly the rows of the
report's ``attendees`` table whose ``attended`` flag is set, with that row's ``minutes_present``, so
certificates and reports cannot disagree. For a morning that is the morning's report; for the whole
event it is the whole-event report, whose ``attended`` means present for at least the threshold's
share of the time of all the mornings together (docs/certificates.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from server.services.reports.model import EVENT_SCOPE, Report

COLUMNS = ("registration_id", "name", "organisation", "language", "minutes_present", "attended")


@dataclass(frozen=True)
class Earned:
    registration_id: int
    name: str
    organisation: str
    language: str
    minutes: float


def earned(report: Report) -> list[Earned]:
    """Everyone the report marks as attended, in the report's order."""
    table = report.table("attendees")
    keys = [column.key for column in table.columns]
    rid, name, organisation, language, minutes, attended = (keys.index(key) for key in COLUMNS)
    return [
        Earned(int(row[rid]), str(row[name]), str(row[organisation] or ""), str(row[language]), float(row[minutes]))
        for row in table.rows
        if row[attended] is True
    ]


def scope_days(report: Report) -> tuple[date, date]:
    """The first and last day a certificate of the report's scope names."""
    if report.scope != EVENT_SCOPE:
        day = date.fromisoformat(report.scope)
        return day, day
    days = [timeline.day for timeline in report.timelines]
    if not days:
        raise ValueError("the whole-event report covers no morning")
    return min(days), max(days)
