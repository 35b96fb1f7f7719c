"""What happened on stage and in the Q&A: speeches, questions, moderation decisions, and the
written statements of delegations not reached.

Speeches come from ``speech.ended`` events (self-contained: who, from where, and the time spoken,
pauses excluded); ``source`` is ``floor`` for a request from the speakers queue, ``programme`` for a
panel's own people. Questions are the live state's final ones with their vote count from the votes
table; decisions are the staff events with who took them (``by``) and, for answering and archiving,
the event log's actor.
"""

from __future__ import annotations

from server.services.reports.attendance_tables import ALL
from server.services.reports.model import Column, ReportInput, Table
from server.services.reports.windows import MorningWindow


def duration_text(seconds: float) -> str:
    total = int(seconds + 0.5)
    return f"{total // 60}:{total % 60:02d}"


def _segment_keys(windows: list[MorningWindow]) -> dict[int, str]:
    return {s.id: s.key for w in windows for s, _ in w.segments}


def speech_table(data: ReportInput, windows: list[MorningWindow]) -> Table:
    keys = _segment_keys(windows)
    columns = [
        Column("segment", "Segment"),
        Column("speech_id", "Speech", "int"),
        Column("source", "From"),
        Column("speaker", "Speaker"),
        Column("organisation", "Organisation"),
        Column("on_behalf_of", "On behalf of"),
        Column("topic", "Topic"),
        Column("point_of_order", "Point of order", "bool"),
        Column("email", "Email"),
        Column("category", "Category"),
        Column("country", "Country"),
        Column("started_local", "Started (local)", "local"),
        Column("started_utc", "Started (UTC)", "utc"),
        Column("ended_local", "Ended (local)", "local"),
        Column("duration_s", "Seconds spoken", "int"),
        Column("duration", "Time spoken (m:ss)"),
    ]
    rows = []
    for s in sorted(data.speeches, key=lambda s: (s.started_at, s.id)):
        if s.segment_id not in keys:
            continue
        who = data.attendees.get(s.registration_id) if s.registration_id is not None else None
        rows.append(
            (
                keys[s.segment_id],
                s.id,
                s.source,
                s.speaker_name,
                s.organisation or "",
                s.on_behalf_of or "",
                s.topic or "",
                s.point_of_order,
                who.email if who else "",
                who.category if who else "",
                who.country if who else "",
                s.started_at,
                s.started_at,
                s.ended_at,
                int(s.duration_s + 0.5),
                duration_text(s.duration_s),
            )
        )
    return Table("speeches", "Speeches (from the floor and the programme)", columns, rows)


def question_table(data: ReportInput, windows: list[MorningWindow]) -> Table:
    keys = _segment_keys(windows)
    columns = [
        Column("question_id", "Question", "int"),
        Column("segment", "Segment"),
        Column("asked_local", "Asked (local)", "local"),
        Column("asked_utc", "Asked (UTC)", "utc"),
        Column("asker", "Asked by"),
        Column("organisation", "Organisation"),
        Column("anonymous", "Anonymous on the board", "bool"),
        Column("email", "Email"),
        Column("addressed_to", "Addressed to"),
        Column("text", "Question"),
        Column("original_text", "Original wording"),
        Column("status", "Status"),
        Column("answered", "Answered", "bool"),
        Column("answered_local", "Answered at (local)", "local"),
        Column("votes", "Votes", "int"),
    ]
    rows = []
    for q in data.questions:
        if q.segment_id not in keys:
            continue
        who = data.attendees.get(q.registration_id) if q.registration_id is not None else None
        answered = q.answered_at is not None
        rows.append(
            (
                q.id,
                keys[q.segment_id],
                q.asked_at,
                q.asked_at,
                q.asker_name,
                q.asker_organisation or "",
                q.anonymous,
                who.email if who else "",
                q.addressed_to or "",
                q.text,
                q.original_text or "",
                q.status,
                answered,
                q.answered_at,
                q.votes,
            )
        )
    return Table("questions", "Questions", columns, rows)


def decision_table(data: ReportInput, windows: list[MorningWindow]) -> Table:
    keys = _segment_keys(windows)
    in_scope = {q.id: keys[q.segment_id] for q in data.questions if q.segment_id in keys}
    columns = [
        Column("at_local", "When (local)", "local"),
        Column("at_utc", "When (UTC)", "utc"),
        Column("question_id", "Question", "int"),
        Column("segment", "Segment"),
        Column("action", "Decision"),
        Column("by", "By"),
        Column("detail", "Detail"),
    ]
    rows = []
    for d in sorted(data.decisions, key=lambda d: d.at):
        if d.question_id is None:
            if not any(w.start <= d.at < w.until for w in windows):
                continue
            segment = ALL
        elif d.question_id in in_scope:
            segment = in_scope[d.question_id]
        else:
            continue
        rows.append((d.at, d.at, d.question_id, segment, d.action, d.by, d.detail))
    return Table("qa_decisions", "Q&A moderation decisions", columns, rows)


def statement_table(data: ReportInput, windows: list[MorningWindow]) -> Table:
    """The approved written statements of the scope's segments, segment by segment (schedule
    order), in the language they were written in; pending and rejected ones are only counted."""
    keys = _segment_keys(windows)
    order = {key: index for index, key in enumerate(keys.values())}
    columns = [
        Column("segment", "Segment"),
        Column("statement_id", "Statement", "int"),
        Column("author", "Author"),
        Column("organisation", "Delegation"),
        Column("on_behalf_of", "On behalf of"),
        Column("language", "Language"),
        Column("submitted_local", "Submitted (local)", "local"),
        Column("submitted_utc", "Submitted (UTC)", "utc"),
        Column("published_local", "Published (local)", "local"),
        Column("text", "Statement"),
    ]
    approved = [s for s in data.statements if s.status == "approved" and s.segment_id in keys]
    rows = [
        (
            keys[s.segment_id],
            s.id,
            s.author_name,
            s.organisation or "",
            s.on_behalf_of or "",
            s.language,
            s.submitted_at,
            s.submitted_at,
            s.decided_at,
            s.text,
        )
        for s in sorted(approved, key=lambda s: (order[keys[s.segment_id]], s.id))
    ]
    return Table("statements", "Written statements (approved)", columns, rows)


def statement_counts(data: ReportInput, windows: list[MorningWindow]) -> dict[str, int]:
    """Statements of the scope's segments by status, and all submitted (a replaced version counts once)."""
    keys = _segment_keys(windows)
    statuses = [s.status for s in data.statements if s.segment_id in keys]
    return {
        "submitted": len(statuses),
        "approved": statuses.count("approved"),
        "rejected": statuses.count("rejected"),
        "pending": statuses.count("pending"),
    }
