"""The whole-event report and the XLSX workbooks, checked after the mornings' CSV reports.

The whole-event report covers every morning played: it must carry each morning's figures as that
morning's report has them (minutes per morning, shares per segment, segments, questions and votes,
speakers from the floor, polls), and against the truth what only it can say: the unique attendees
across the event (present in some morning), the no-shows across the event (present in none) and
the votes on questions (cast before the end of the last morning: a vote cast on a later morning
counts in the whole event, not in the morning the question was asked).

The XLSX workbook of each report must carry the same figures as its CSV files: every sheet the
same rows and cells as its CSV table (numbers as numbers, instants as date cells), and the summary
sheet the same values as ``summary.csv``. The PDF is left out: it is a summary of the same tables.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from openpyxl import load_workbook

from server.rehearsal.actors import Truth
from server.rehearsal.checks import Check, Presence, Span
from server.rehearsal.plan import MorningPlan

Tables = dict[str, list[dict[str, str]]]


def _minutes(text: str | None) -> float:
    return float(text) if text else 0.0


def _attendee_ids(tables: Tables) -> set[int]:
    return {int(r["registration_id"]) for r in tables.get("attendees", [])}


def _summary(tables: Tables) -> dict[str, str]:
    return {r["key"]: r["value"] for r in tables.get("summary", [])}


def morning_windows(mornings: list[MorningPlan], truth: Truth) -> dict[str, Span]:
    """Each morning's window as the moderator's events said it ran (as ``checks.check_report``)."""
    out: dict[str, Span] = {}
    for morning in mornings:
        spans = [truth.segments.get(s.id) for s in morning.segments]
        if any(span is None or span[1] is None for span in spans):
            continue
        opened = min([morning.starts_at, *(span[0] for span in spans if span is not None)])
        last = spans[-1]
        assert last is not None and last[1] is not None
        out[morning.day] = (opened, last[1])
    return out


def check_event_report(
    mornings: list[MorningPlan],
    event: Tables,
    by_day: dict[str, Tables],
    truth: Truth,
    registrations: Iterable[int],
) -> Check:
    """``event`` against the mornings' reports ``by_day`` (each already checked against the truth)
    and against the truth for what spans mornings."""
    check = Check("report event")
    presence = Presence.of(truth.intervals)
    windows = morning_windows(mornings, truth)
    days = [m.day for m in mornings]
    missing = [d for d in days if d not in by_day]
    if missing:
        check.fail(f"the mornings {missing} have no report to compare the whole event's with")
        return check
    registered = set(registrations)
    present = set().union(*(_attendee_ids(by_day[d]) for d in days))
    rows = {int(r["registration_id"]): r for r in event.get("attendees", [])}
    if set(rows) != present:
        check.fail(f"attendees: {len(rows)} in the whole event's report, {len(present)} in the mornings' reports")
    surely = {r for r in registered if any(presence.bracket(r, w)[0] > 0 for w in windows.values())}
    maybe = {r for r in registered if any(presence.bracket(r, w)[1] > 0 for w in windows.values())}
    if not surely <= set(rows) <= maybe:
        check.fail(
            f"unique attendees: report {len(rows)}, truth {len(surely)}-{len(maybe)} "
            f"(missing {sorted(surely - set(rows))[:5]}, wrongly {sorted(set(rows) - maybe)[:5]})"
        )
    no_shows = {int(r["registration_id"]) for r in event.get("no_shows", [])}
    if no_shows != registered - present or no_shows & surely or (registered - maybe) - no_shows:
        check.fail(f"no-shows across the event: report {len(no_shows)}, truth {len(registered - present)}")

    for day in days:
        morning_rows = {int(r["registration_id"]): r for r in by_day[day].get("attendees", [])}
        for registration_id, row in rows.items():
            theirs = morning_rows.get(registration_id, {})
            if _minutes(row.get(f"minutes_{day}")) != _minutes(theirs.get("minutes_present")):
                check.fail(
                    f"attendee {registration_id} on {day}: {row.get(f'minutes_{day}')} min in the whole event's "
                    f"report, {theirs.get('minutes_present', '0')} in the morning's"
                )
            for column in (c for c in theirs if c.startswith("share_") and c != "share_pct"):
                if _minutes(row.get(column)) != _minutes(theirs.get(column)):
                    check.fail(f"attendee {registration_id}: {column} {row.get(column)}, morning {theirs[column]}")
    for registration_id, row in rows.items():
        total = _minutes(row["minutes_present"])
        parts = sum(_minutes(row.get(f"minutes_{d}")) for d in days)
        low = sum(presence.bracket(registration_id, w)[0] for w in windows.values())
        high = sum(presence.bracket(registration_id, w)[1] for w in windows.values())
        if abs(total - parts) > 0.05 * (len(days) + 1) + 1e-9 or not low - 3.01 <= total * 60 <= high + 3.01:
            check.fail(
                f"attendee {registration_id}: {total} min in the whole event, mornings {parts:.1f}, "
                f"truth {low / 60:.1f}-{high / 60:.1f}"
            )

    def rows_of(table: str, key: str, tables: Tables) -> dict[str, dict[str, str]]:
        return {r[key]: r for r in tables.get(table, [])}

    for table, key, columns in (
        ("segments", "segment", ("unique_attendees", "peak_concurrent", "minutes")),
        ("questions", "question_id", ("email", "segment")),
    ):
        whole = rows_of(table, key, event)
        parts_rows = {k: r for d in days for k, r in rows_of(table, key, by_day[d]).items()}
        if set(whole) != set(parts_rows):
            check.fail(f"{table}: {len(whole)} in the whole event's report, {len(parts_rows)} in the mornings'")
        for name, row in whole.items():
            for column in columns:
                if column in row and row[column] != parts_rows.get(name, {}).get(column):
                    theirs_value = parts_rows.get(name, {}).get(column)
                    check.fail(f"{table} {name}: {column} {row[column]!r}, the morning's {theirs_value!r}")
    votes_cast = truth.votes
    scope_end = max(w[1] for w in windows.values())
    for name, row in rows_of("questions", "question_id", event).items():
        cast = votes_cast.get(int(name), {}).values()
        at_least = sum(1 for _, answered in cast if answered < scope_end)  # cast before the scope's end
        at_most = sum(1 for sent, _ in cast if sent < scope_end)
        if not at_least <= int(row["votes"]) <= at_most:
            check.fail(f"question {name}: {row['votes']} votes in the whole event's report, truth {at_least}-{at_most}")
    floor = sorted(r["email"] for r in event.get("speeches", []) if r["source"] == "floor")
    floor_parts = sorted(r["email"] for d in days for r in by_day[d].get("speeches", []) if r["source"] == "floor")
    if floor != floor_parts:
        check.fail(f"speakers from the floor: {len(floor)} in the whole event's report, {len(floor_parts)} mornings'")
    polls = sorted((r["poll_id"], r["option_id"], r["ballots"], r["votes"]) for r in event.get("polls", []))
    polls_parts = sorted(
        (r["poll_id"], r["option_id"], r["ballots"], r["votes"]) for d in days for r in by_day[d].get("polls", [])
    )
    if polls != polls_parts:
        check.fail(f"polls: the whole event's report differs from the mornings ({len(polls)}, {len(polls_parts)} rows)")

    summary = _summary(event)
    sums = {
        "joined": len(present),
        "no_shows": len(registered - present),
        "questions": sum(int(_summary(by_day[d]).get("questions", "0")) for d in days),
        "floor_speeches": sum(int(_summary(by_day[d]).get("floor_speeches", "0")) for d in days),
        "polls": sum(int(_summary(by_day[d]).get("polls", "0")) for d in days),
        "poll_ballots": sum(int(_summary(by_day[d]).get("poll_ballots", "0")) for d in days),
    }
    for key, value in sums.items():
        if key in summary and summary[key] != str(value):
            check.fail(f"summary {key}: {summary[key]} in the whole event's report, {value} from the mornings")
    check.figures = {
        "mornings": len(days),
        "unique_attendees": len(rows),
        "no_shows": len(no_shows),
        **{k: summary.get(k) for k in ("questions", "votes", "floor_speeches", "polls", "poll_ballots")},
    }
    return check


# --- XLSX -------------------------------------------------------------------------------------------


def _same(text: str, cell: Any) -> bool:
    if cell is None:
        return text == ""
    if isinstance(cell, datetime):
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return False
        return parsed.replace(tzinfo=None) == cell.replace(tzinfo=None, microsecond=0)
    if isinstance(cell, bool):
        return text == ("yes" if cell else "no")
    if isinstance(cell, int | float):
        try:
            return abs(float(text) - float(cell)) < 1e-6
        except ValueError:
            return False
    return str(cell) == text


def read_workbook(data: bytes) -> dict[str, list[tuple[Any, ...]]]:
    book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        return {sheet.title: [tuple(row) for row in sheet.iter_rows(values_only=True)] for sheet in book.worksheets}
    finally:
        book.close()


def check_xlsx(scope: str, tables: Tables, workbook: dict[str, list[tuple[Any, ...]]]) -> Check:
    """Every CSV table of ``scope`` as a sheet of the workbook with the same cells, and the summary."""
    check = Check(f"xlsx {scope}")
    cells = 0
    for name, rows in tables.items():
        if name == "summary":
            continue
        sheet = workbook.get(name[:31])
        if sheet is None:
            check.fail(f"no sheet {name}")
            continue
        if len(sheet) - 1 != len(rows):
            check.fail(f"sheet {name}: {len(sheet) - 1} rows, the CSV {len(rows)}")
            continue
        for number, (row, line) in enumerate(zip(rows, sheet[1:], strict=True), start=2):
            values = list(row.values())
            padded = list(line) + [None] * (len(values) - len(line))
            for column, (text, cell) in enumerate(zip(values, padded, strict=False)):
                cells += 1
                if not _same(text, cell):
                    check.fail(f"sheet {name} row {number} column {column + 1}: {cell!r}, the CSV {text!r}")
    summary = tables.get("summary", [])
    sheet = workbook.get("summary", [])
    lines = [line for line in sheet[3 : 3 + len(summary)]]
    for row, line in zip(summary, lines, strict=False):
        cells += 1
        if line[0] != row["label"] or not _same(row["value"], line[1] if len(line) > 1 else None):
            check.fail(f"summary {row['key']}: {line[1:2]!r} in the workbook, {row['value']!r} in the CSV")
    if len(lines) != len(summary):
        check.fail(f"the summary sheet has {len(lines)} figures, summary.csv {len(summary)}")
    check.figures = {"sheets": len(workbook), "cells_compared": cells}
    return check
