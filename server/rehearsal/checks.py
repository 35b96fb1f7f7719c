"""The checks at the end of a rehearsal: what the stack did against what the simulated people did.

Each check is a ``Check`` (name, passed, figures, failures). Presence is compared with brackets, not
points: the server opens a connection's presence somewhere between the moment the client started
its handshake and the moment the handshake ended, and ends it between the moment the client began
to close (or, for a cut, sent its last frame) and the moment the close was done. A report figure
holds when it lies within the bracket, widened only by the report's own rounding (0.1 minute, 0.1 %).
At a high speed a bracket is wide in virtual seconds (50 ms real is 6 virtual seconds at 120x): the
summary shows how wide they were.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter

from server.core.apply import apply_public, apply_staff
from server.core.model import Event, PublicState, StaffState
from server.rehearsal.actors import Interval, Truth
from server.rehearsal.plan import MorningPlan
from server.rehearsal.smtp_sink import Received
from server.rehearsal.wire import Ledger, Problems

MAX_FAILURES_KEPT = 500  # in summary.json; the printed summary shows the first MAX_FAILURES_SHOWN
MAX_FAILURES_SHOWN = 12


@dataclass
class Check:
    name: str
    passed: bool = True
    figures: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    failure_count: int = 0

    def fail(self, message: str) -> None:
        self.passed = False
        self.failure_count += 1
        if len(self.failures) < MAX_FAILURES_KEPT:
            self.failures.append(message)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "figures": self.figures,
            "failures": self.failures,
            "failure_count": self.failure_count,
        }


# --- reminders --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpectedReminder:
    day: str
    kind: str
    email: str
    language: str
    due: datetime
    morning_starts: datetime


def check_reminders(expected: list[ExpectedReminder], received: list[Received], slug: str) -> Check:
    """Every due reminder reached the SMTP server exactly once, in the recipient's language, not
    before it was due and before its morning began; nothing else was sent."""
    check = Check("reminders")
    got: dict[tuple[str, str, str], list[Received]] = defaultdict(list)
    others = 0  # mails that are not reminders (a registration's confirmation): not this check's
    for mail in received:
        header = str(mail.message.get("X-Parley-Reminder", "")).split()
        if not header:
            others += 1
            continue
        if len(header) != 3 or header[0] != slug:
            check.fail(f"a reminder of another event: {mail.message.get('X-Parley-Reminder')!r}")
            continue
        for address in mail.recipients:
            got[(header[1], header[2], address)].append(mail)
    late_s: list[float] = []
    wanted = {(e.day, e.kind, e.email): e for e in expected}
    for key, reminder in wanted.items():
        mails = got.get(key, [])
        if not mails:
            check.fail(f"{reminder.kind} of {reminder.day} never reached {reminder.email}")
            continue
        if len(mails) > 1:
            check.fail(f"{reminder.kind} of {reminder.day} reached {reminder.email} {len(mails)} times")
        mail = mails[0]
        language = str(mail.message.get("Content-Language", ""))
        if language != reminder.language:
            check.fail(
                f"{reminder.kind} of {reminder.day} to {reminder.email} in {language!r}, not {reminder.language!r}"
            )
        if mail.at < reminder.due:
            check.fail(
                f"{reminder.kind} of {reminder.day} to {reminder.email} sent {mail.at:%H:%M:%S}, "
                f"before due {reminder.due:%H:%M:%S}"
            )
        if mail.at >= reminder.morning_starts:
            check.fail(
                f"{reminder.kind} of {reminder.day} to {reminder.email} sent after the morning began "
                f"({mail.at:%H:%M:%S})"
            )
        late_s.append((mail.at - reminder.due).total_seconds())
    for key, mails in got.items():
        if key not in wanted:
            check.fail(f"{key[1]} of {key[0]} to {key[2]} was not due ({len(mails)} sent)")
    late_s.sort()
    check.figures = {
        "due": len(wanted),
        "delivered": sum(len(m) for m in got.values()),
        "other_mails": others,
        "by_kind": dict(sorted(Counter(f"{d} {k}" for d, k, _ in got).items())),
        "lateness_virtual_s_p50": late_s[len(late_s) // 2] if late_s else None,
        "lateness_virtual_s_max": late_s[-1] if late_s else None,
    }
    return check


# --- presence arithmetic ------------------------------------------------------------------------------

Span = tuple[datetime, datetime]


def merge(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def clipped_seconds(spans: list[Span], window: Span) -> float:
    return sum(max(0.0, (min(e, window[1]) - max(s, window[0])).total_seconds()) for s, e in spans)


def peak(per_person: list[list[Span]], window: Span) -> int:
    edges: list[tuple[datetime, int]] = []
    for spans in per_person:
        for start, end in spans:
            start, end = max(start, window[0]), min(end, window[1])
            if end > start:
                edges += [(start, 1), (end, -1)]
    best = current = 0
    for _, step in sorted(edges, key=lambda e: (e[0], e[1])):  # a leave before a join at one instant
        current += step
        best = max(best, current)
    return best


@dataclass
class Presence:
    """Each registration's presence at its least (``low``) and at its most (``high``)."""

    low: dict[int, list[Span]]
    high: dict[int, list[Span]]

    @classmethod
    def of(cls, intervals: list[Interval]) -> Presence:
        low: dict[int, list[Span]] = defaultdict(list)
        high: dict[int, list[Span]] = defaultdict(list)
        for i in intervals:
            low[i.registration_id].append((i.open_hi, i.close_lo))
            high[i.registration_id].append((i.open_lo, i.close_hi))
        return cls({k: merge(v) for k, v in low.items()}, {k: merge(v) for k, v in high.items()})

    def bracket(self, registration_id: int, window: Span) -> tuple[float, float]:
        return (
            clipped_seconds(self.low.get(registration_id, []), window),
            clipped_seconds(self.high.get(registration_id, []), window),
        )


# --- reports ----------------------------------------------------------------------------------------


def read_tables(zipped: bytes) -> dict[str, list[dict[str, str]]]:
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        return {
            name.removesuffix(".csv"): list(csv.DictReader(io.StringIO(archive.read(name).decode("utf-8-sig"))))
            for name in archive.namelist()
        }


def _number(text: str) -> float:
    return float(text) if text not in ("", None) else 0.0


def check_report(
    morning: MorningPlan,
    tables: dict[str, list[dict[str, str]]],
    truth: Truth,
    registrations: dict[int, str],  # id -> email
) -> Check:
    """The compiled report of one morning against the truth: minutes of each attendee in the
    morning and in each segment, unique attendees and peaks per segment, no-shows, questions and
    their votes, speakers from the floor."""
    check = Check(f"report {morning.day}")
    segment_ids = {s.id for s in morning.segments}
    spans = {s.key: truth.segments.get(s.id) for s in morning.segments}
    if any(span is None or span[1] is None for span in spans.values()):
        check.fail("a segment of the morning was never opened and ended by the moderator")
        return check
    windows: dict[str, Span] = {k: (v[0], v[1]) for k, v in spans.items() if v is not None and v[1] is not None}
    morning_window: Span = (
        min(morning.starts_at, *(w[0] for w in windows.values())),
        max(w[1] for w in windows.values()),
    )
    last_key = morning.segments[-1].key
    morning_window = (morning_window[0], windows[last_key][1])
    presence = Presence.of(truth.intervals)
    widest = 0.0

    rows = {int(r["registration_id"]): r for r in tables.get("attendees", [])}
    for registration_id in registrations:
        low, high = presence.bracket(registration_id, morning_window)
        widest = max(widest, high - low)
        row = rows.get(registration_id)
        if row is None:
            if low > 0:
                check.fail(f"attendee {registration_id} was present {low:.0f}-{high:.0f} s but is not in the report")
            continue
        seconds = _number(row["minutes_present"]) * 60
        if not low - 3.01 <= seconds <= high + 3.01:
            check.fail(f"attendee {registration_id}: report {seconds:.0f} s present, truth {low:.0f}-{high:.0f} s")
        for key, window in windows.items():
            length = (window[1] - window[0]).total_seconds()
            seg_low, seg_high = presence.bracket(registration_id, window)
            share = _number(row.get(f"share_{key}_pct", "0")) / 100 * length
            slack = 0.0005 * length + 0.5
            if not seg_low - slack <= share <= seg_high + slack:
                check.fail(
                    f"attendee {registration_id} in {key}: report {share:.0f} s, truth {seg_low:.0f}-{seg_high:.0f} s"
                )

    segments = {r["segment"]: r for r in tables.get("segments", [])}
    peaks = {}
    for key, window in windows.items():
        row = segments.get(key)
        if row is None:
            check.fail(f"segment {key} is not in the report")
            continue
        at_least = sum(1 for r in registrations if presence.bracket(r, window)[0] > 0)
        at_most = sum(1 for r in registrations if presence.bracket(r, window)[1] > 0)
        unique = int(row["unique_attendees"])
        if not at_least <= unique <= at_most:
            check.fail(f"segment {key}: {unique} unique attendees in the report, truth {at_least}-{at_most}")
        low_peak = peak(list(presence.low.values()), window)
        high_peak = peak(list(presence.high.values()), window)
        reported = int(row["peak_concurrent"])
        peaks[key] = reported
        if not low_peak <= reported <= high_peak:
            check.fail(f"segment {key}: peak {reported} in the report, truth {low_peak}-{high_peak}")

    no_shows = {int(r["registration_id"]) for r in tables.get("no_shows", [])}
    surely_absent = {r for r in registrations if presence.bracket(r, morning_window)[1] == 0}
    surely_present = {r for r in registrations if presence.bracket(r, morning_window)[0] > 0}
    if not surely_absent <= no_shows or no_shows & surely_present:
        check.fail(
            f"no-shows: report {len(no_shows)}, truth {len(surely_absent)} "
            f"(missing {sorted(surely_absent - no_shows)[:5]}, wrongly {sorted(no_shows & surely_present)[:5]})"
        )

    asked = {q: v for q, v in truth.questions.items() if v[1] in segment_ids}
    reported_questions = {int(r["question_id"]): r for r in tables.get("questions", [])}
    for question in set(reported_questions) - set(asked):  # asked by a tab that left before the answer
        unsure = truth.unsure_questions.get(reported_questions[question].get("text", ""))
        if unsure is not None and unsure[1] in segment_ids:
            asked[question] = unsure
    if set(reported_questions) != set(asked):
        check.fail(f"questions: report {sorted(reported_questions)[:8]}, truth {sorted(asked)[:8]}")
    votes = 0
    for question, row in reported_questions.items():
        cast = truth.votes.get(question, {}).values()
        surely = sum(1 for _, answered in cast if answered < morning_window[1])  # recorded before the end
        maybe = sum(1 for sent, _ in cast if sent < morning_window[1])
        votes += int(row["votes"])
        if not surely <= int(row["votes"]) <= maybe:
            truth_votes = f"{surely}" if surely == maybe else f"{surely}-{maybe}"
            check.fail(f"question {question}: {row['votes']} votes in the report, truth {truth_votes}")
        asker = registrations.get(asked.get(question, (0, 0))[0], "")
        if row.get("email", "").lower() != asker:
            check.fail(f"question {question}: asked by {row.get('email')!r} in the report, truth {asker!r}")

    floor = sorted(r["email"].lower() for r in tables.get("speeches", []) if r["source"] == "floor")
    truth_floor = sorted(registrations.get(r, "?") for r in truth.floor_speakers.get(morning.day, []))
    if floor != truth_floor:
        check.fail(f"speakers from the floor: report {floor[:5]}…, truth {truth_floor[:5]}…")

    check.figures = {
        "attendees_present": len(rows),
        "no_shows": len(no_shows),
        "unique_by_segment": {k: int(r["unique_attendees"]) for k, r in segments.items()},
        "peak_by_segment": peaks,
        "questions": len(reported_questions),
        "votes": votes,
        "speakers_from_floor": len(floor),
        "widest_presence_bracket_s": round(widest, 1),
    }
    return check


# --- clients ----------------------------------------------------------------------------------------

EVENTS: TypeAdapter[Event] = TypeAdapter(Event)


def check_clients(ledger: Ledger, problems: Problems, fresh: dict[str, tuple[int, dict[str, Any]]]) -> Check:
    """No gap nor duplicate seq, nobody closed as idle while answering, every client saw the same
    event at each position, and each snapshot any client got, as well as a fresh one taken at the
    end, equals the first snapshot with the events since applied (so every client's final state,
    its last snapshot plus the same events, equals a fresh snapshot)."""
    check = Check("clients")
    for name, value in (
        ("gaps", problems.gaps),
        ("duplicate seqs", problems.duplicates),
        ("idle closes while answering", problems.idle_closed_while_answering),
        ("refused connections", problems.refused),
        ("different events at one position", ledger.event_mismatches),
        ("different snapshots at one position", ledger.snapshot_mismatches),
    ):
        if value:
            check.fail(f"{value} {name}")
    for error, count in problems.unexpected_errors.items():
        check.fail(f"{count} × {error}")
    if len(ledger.epochs) > 1:
        check.fail(f"{len(ledger.epochs)} epochs seen")
    replayed = 0
    for channel, model in (("public", PublicState), ("staff", StaffState)):
        seqs = sorted(seq for c, seq in ledger.snapshots if c == channel)
        if not seqs:
            continue
        first = seqs[0]
        state: Any = model.model_validate_json(ledger.snapshots[(channel, first)])
        final_seq = max([first, *(s for c, s in ledger.events if c == channel)])
        for seq in range(first + 1, final_seq + 1):
            text = ledger.events.get((channel, seq))
            if text is None:
                check.fail(f"{channel} event {seq} reached no client")
                break
            event = EVENTS.validate_json(text)
            state = apply_public(state, event) if channel == "public" else apply_staff(state, event)
            replayed += 1
            seen = ledger.snapshots.get((channel, seq))
            if seen is not None and json.loads(seen) != state.model_dump(mode="json"):
                check.fail(f"the {channel} snapshot at seq {seq} differs from the events before it")
            if channel in fresh and fresh[channel][0] == seq and fresh[channel][1] != state.model_dump(mode="json"):
                check.fail(f"a fresh {channel} snapshot differs from the clients' state at seq {seq}")
        if channel in fresh and fresh[channel][0] > final_seq:
            check.fail(f"a fresh {channel} snapshot is at seq {fresh[channel][0]}, no client got past {final_seq}")
    check.figures = {
        "frames": ledger.frames,
        "events": len(ledger.events),
        "events_replayed_for_the_check": replayed,
        "resyncs": dict(problems.resyncs),
        "closes": {str(k): v for k, v in sorted(problems.closes.items())},
    }
    return check


def expected_reminders(
    mornings: list[MorningPlan],
    *,
    played: Any,
    people: list[tuple[str, str]],  # (email, language) of every registration
    staff: list[tuple[str, str]],  # (email, language) of the event's moderators
    attendee_minutes: tuple[int, ...],
    speaker_minutes: tuple[int, ...],
    slug_kind: Any,
) -> list[ExpectedReminder]:
    """The reminders due during the played windows: to every registration (registered before the
    first one came due) and to the event's moderators, for every morning not yet begun."""
    out = []
    for morning in mornings:
        for audience, minutes_list, recipients in (
            ("attendees", attendee_minutes, people),
            ("speakers", speaker_minutes, staff),
        ):
            for minutes in minutes_list:
                due = morning.starts_at - timedelta(minutes=minutes)
                if not played(due):
                    continue
                kind = slug_kind(audience, minutes)
                out += [ExpectedReminder(morning.day, kind, e, lang, due, morning.starts_at) for e, lang in recipients]
    return out
