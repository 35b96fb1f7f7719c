"""Attendance reports: a morning with known attendance, every figure checked against the truth.

The morning (Monday 28 February 2022, New York, UTC-5) is played through the real core (``decide``)
into ``event_log`` and ``live_states`` as the live service would, with presence rows and votes
inserted directly:

- segments: opening 09:00-09:30, panel 1 09:30-10:45, panel 2 10:45-12:00, ended by the moderator
  at 12:10 (ten minutes late), so the morning's window is 09:00-12:10 (190 minutes);
- Alice 08:50-12:30 (all of it); Bruno two tabs and a reconnect, 09:10-10:40 merged (90 min,
  47.4 %); Chloé 09:00-10:35 (95 min, exactly 50 %); "=1+2" (Mallory) 11:00 to a stale open row last
  seen 11:30; Dmitri 11:50 to a live open row; Ivan only before the start (08:40-08:55);
- registered, never joined: Eve, Hugo (comes on day two), Ivan; Frank registered after the
  morning; Grace was revoked before it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pypdf
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from server.adapters.db.engine import make_sync_engine
from server.adapters.db.models import (
    Day,
    Event,
    EventLogEntry,
    LiveStateRow,
    Presence,
    QuestionVote,
    Registration,
    Segment,
    SegmentPerson,
    User,
)
from server.core import decide, new_live_state
from server.core.model import Person, SegmentInfo
from server.core.records import encode_event, encode_state
from server.core.state import Actor, LiveState
from server.protocol import (
    FloorGrant,
    FloorRequest,
    QaSetModeration,
    QuestionAnswer,
    QuestionApprove,
    QuestionArchive,
    QuestionAsk,
    QuestionDismiss,
    QuestionEdit,
    QuestionRestore,
    SegmentEnd,
    SegmentOpen,
    SpeechEnd,
)
from server.services import reports
from server.services.reports import store
from server.services.reports.cells import neutralise
from server.services.reports.model import DayFacts, SegmentFacts
from server.services.reports.windows import (
    LIVE_SEGMENT_GRACE,
    REPORT_MARGIN_AFTER,
    REPORT_MARGIN_BEFORE,
    morning_window,
)
from tests.fixtures.parley import STALE_AFTER

NY = ZoneInfo("America/New_York")
DAY1, DAY2 = date(2022, 2, 28), date(2022, 3, 1)
TITLE = "Report Test Dialogue 2022"


def at(day: date, clock: str) -> datetime:
    """A New York wall-clock time as an aware UTC instant."""
    hour, minute, *second = (int(p) for p in clock.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute, second[0] if second else 0, tzinfo=NY).astimezone(UTC)


NOW = at(DAY1, "12:20")  # after the moderator closed the morning; Dmitri is still connected
LATER = at(date(2022, 3, 2), "09:00")  # after both mornings


# -- building the morning --------------------------------------------------------------------------


@dataclass
class Scenario:
    engine: Engine
    event_id: int
    people: dict[str, int] = field(default_factory=dict)
    segments: dict[str, int] = field(default_factory=dict)
    moderator_id: int = 0


class Recorder:
    """The live service's write path in miniature: decide, log each event with its seq and actor."""

    def __init__(self, session: Session, event_id: int, state: LiveState) -> None:
        self.session, self.event_id, self.state = session, event_id, state
        self.seq = {"public": 0, "staff": 0}

    def run(self, command: Any, actor: Actor, when: datetime) -> None:
        self.state, emitted = decide(self.state, command, actor=actor, now=when)
        key = f"{'a' if actor.role == 'attendee' else 'u'}:{actor.user_id}"
        for channel, event in emitted:
            self.seq[channel] += 1
            payload, payload_format = encode_event(event)
            self.session.add(
                EventLogEntry(
                    event_id=self.event_id,
                    channel=channel,
                    seq=self.seq[channel],
                    type=event.type,
                    payload=payload,
                    format=payload_format,
                    actor=key,
                    at=when,
                )
            )

    def save(self) -> None:
        state, state_format = encode_state(self.state)
        self.session.add(
            LiveStateRow(
                event_id=self.event_id,
                epoch="test",
                public_seq=self.seq["public"],
                staff_seq=self.seq["staff"],
                state=state,
                format=state_format,
            )
        )


def build_scenario(engine: Engine, *, live_until: datetime | None = LATER, slug: str = "report-test") -> Scenario:
    """The event, its registrations, presences and votes; the live script played up to ``live_until``
    (None: no live state at all, nothing ever opened)."""
    with Session(engine) as session, session.begin():
        event = Event(
            slug=slug,
            title={"en": TITLE, "fr": "Dialogue de test"},
            timezone="America/New_York",
            languages=["en", "fr"],
            streams={},
        )
        session.add(event)
        session.flush()
        scenario = Scenario(engine, event.id)
        d1 = Day(
            event_id=event.id,
            date=DAY1,
            starts_at=at(DAY1, "09:00"),
            ends_at=at(DAY1, "12:00"),
            title={"en": "Day one"},
            theme={},
        )
        d2 = Day(
            event_id=event.id,
            date=DAY2,
            starts_at=at(DAY2, "09:00"),
            ends_at=at(DAY2, "12:00"),
            title={"en": "Day two"},
            theme={},
        )
        session.add_all([d1, d2])
        session.flush()
        specs = [
            (d1, "d1-opening", "opening", "09:00", "09:30"),
            (d1, "d1-panel-1", "panel", "09:30", "10:45"),
            (d1, "d1-panel-2", "panel", "10:45", "12:00"),
            (d2, "d2-panel", "panel", "09:00", "12:00"),
        ]
        for day, key, kind, start, end in specs:
            segment = Segment(
                event_id=event.id,
                day_id=day.id,
                key=key,
                kind=kind,
                title={"en": f"Title of {key}"},
                starts_at=at(day.date, start),
                ends_at=at(day.date, end),
            )
            session.add(segment)
            session.flush()
            scenario.segments[key] = segment.id
        pat = SegmentPerson(
            segment_id=scenario.segments["d1-panel-1"],
            position=0,
            role="speaker",
            name="Pat Panel",
            title="Expert",
            affiliation="IOM",
        )
        session.add(pat)
        moderator = User(email="mia@example.org", name="Mia Moderator")
        session.add(moderator)
        session.flush()
        scenario.moderator_id = moderator.id

        registered = at(date(2022, 2, 20), "10:00")
        people = [
            ("Alice Martin", "member_state", "FR", "fr", "Mission of France", registered, None),
            ("Bruno Costa", "civil_society", "BR", "es", "ONG Brasil", registered, None),
            ("Chloé Dubois", "academia", "FR", "fr", "Sorbonne", registered, None),
            ("=1+2", "media", "+33", "en", "@evil", registered, None),
            ("Dmitri Ivanov", "un_system", "", "en", "UNDP", registered, None),
            ("Eve Keller", "other", "DE", "en", "#N/A", registered, None),
            ("Frank Late", "other", "US", "en", "", at(DAY1, "13:00"), None),
            ("Grace Gone", "other", "US", "en", "", registered, at(date(2022, 2, 25), "10:00")),
            ("Hugo Second", "media", "ES", "es", "El País", registered, None),
            ("Ivan Early", "other", "UA", "en", "", registered, None),
        ]
        for name, category, country, language, organisation, created, revoked in people:
            email = name.lower().replace(" ", ".").replace("=", "eq").replace("+", "plus") + "@example.org"
            reg = Registration(
                event_id=event.id,
                name=name,
                email=email,
                organisation=organisation,
                category=category,
                country=country,
                language=language,
                join_nonce="n",
                created_at=created,
                revoked_at=revoked,
            )
            session.add(reg)
            session.flush()
            scenario.people[name.split()[0]] = reg.id
        p = scenario.people
        presences = [
            (p["Alice"], at(DAY1, "08:50"), at(DAY1, "12:30"), at(DAY1, "12:30")),
            (p["Bruno"], at(DAY1, "09:10"), at(DAY1, "10:00"), at(DAY1, "10:00")),
            (p["Bruno"], at(DAY1, "09:40"), at(DAY1, "10:20"), at(DAY1, "10:20")),  # a second tab
            (p["Bruno"], at(DAY1, "10:20"), at(DAY1, "10:40"), at(DAY1, "10:40")),  # a reconnect, touching
            (p["Chloé"], at(DAY1, "09:00"), at(DAY1, "10:35"), at(DAY1, "10:35")),
            (p["=1+2"], at(DAY1, "11:00"), at(DAY1, "11:30"), None),  # crashed server, not swept yet
            (p["Dmitri"], at(DAY1, "11:50"), at(DAY1, "12:19:30"), None),  # still connected at NOW
            (p["Ivan"], at(DAY1, "08:40"), at(DAY1, "08:55"), at(DAY1, "08:55")),
            (p["Hugo"], at(DAY2, "09:00"), at(DAY2, "10:00"), at(DAY2, "10:00")),
            (p["Alice"], at(DAY2, "09:30"), at(DAY2, "12:00"), at(DAY2, "12:00")),
        ]
        for index, (reg_id, start, seen, end) in enumerate(presences):
            session.add(
                Presence(
                    event_id=event.id,
                    registration_id=reg_id,
                    connection_id=f"c{index}",
                    server_id="s",
                    started_at=start,
                    last_seen_at=seen,
                    ended_at=end,
                )
            )
        if live_until is not None:
            play_morning(session, scenario, live_until)
    return scenario


def play_morning(session: Session, s: Scenario, until: datetime) -> None:
    segments = session.execute(select(Segment).where(Segment.event_id == s.event_id)).scalars().all()
    people = {row.segment_id: row for row in session.execute(select(SegmentPerson)).scalars()}
    infos = [
        SegmentInfo(
            id=seg.id,
            key=seg.key,
            kind=seg.kind,
            day=DAY1 if seg.key.startswith("d1") else DAY2,
            title=seg.title,
            starts_at=seg.starts_at,
            ends_at=seg.ends_at,
            people=(Person(id=people[seg.id].id, name="Pat Panel", role="speaker"),) if seg.id in people else (),
        )
        for seg in segments
    ]
    recorder = Recorder(session, s.event_id, new_live_state(infos))
    mia = Actor(s.moderator_id, "moderator", "Mia Moderator", kind="staff")

    def attendee(first: str) -> Actor:
        return Actor(s.people[first], "attendee", first, None, kind="attendee")

    seg = s.segments
    pat_id = people[seg["d1-panel-1"]].id
    script: list[tuple[str, Any, Actor]] = [
        ("09:00", SegmentOpen(cid="1", segment_id=seg["d1-opening"]), mia),
        ("09:30", SegmentEnd(cid="2", segment_id=seg["d1-opening"]), mia),
        ("09:30", SegmentOpen(cid="3", segment_id=seg["d1-panel-1"]), mia),
        ("09:35", FloorGrant(cid="4", person_id=pat_id), mia),
        ("09:42", SpeechEnd(cid="5"), mia),
        ("09:50", FloorRequest(cid="6", topic="Funding", on_behalf_of="Brazil"), attendee("Bruno")),
        ("10:00", FloorGrant(cid="7", entry_id=1), mia),
        ("10:03:30", SpeechEnd(cid="8"), mia),
        ("10:05", FloorRequest(cid="9", point_of_order=True), attendee("Chloé")),
        ("10:10", FloorGrant(cid="10", entry_id=2), mia),
        ("10:11", SpeechEnd(cid="11"), mia),
        ("10:45", SegmentEnd(cid="12", segment_id=seg["d1-panel-1"]), mia),
        ("10:45", SegmentOpen(cid="13", segment_id=seg["d1-panel-2"]), mia),
        ("10:50", QuestionAsk(cid="14", text="How are funds allocated?"), attendee("Alice")),
        ("10:52", QuestionApprove(cid="15", question_id=1, text="How are the funds allocated?"), mia),
        ("11:01", QuestionAsk(cid="16", text="=cmd|' /C calc'!A0"), attendee("=1+2")),
        ("11:02", QuestionDismiss(cid="17", question_id=2), mia),
        ("11:03", QuestionRestore(cid="18", question_id=2), mia),
        ("11:04", QuestionDismiss(cid="19", question_id=2), mia),
        ("11:05", QuestionAnswer(cid="20", question_id=1), mia),
        ("11:10", QuestionAsk(cid="21", text="Why so few women on panels?", anonymous=True), attendee("Bruno")),
        ("11:11", QuestionEdit(cid="22", question_id=3, text="Why are there so few women on the panels?"), mia),
        ("11:12", QuestionApprove(cid="23", question_id=3), mia),
        ("11:20", QuestionArchive(cid="24", question_id=3), mia),
        ("11:55", QuestionAsk(cid="25", text="Will the slides be shared?"), attendee("Dmitri")),
        ("11:58", QaSetModeration(cid="26", enabled=False), mia),
        ("11:59", QaSetModeration(cid="27", enabled=True), mia),
        ("12:10", SegmentEnd(cid="28", segment_id=seg["d1-panel-2"]), mia),
    ]
    for clock, command, actor in script:
        when = at(DAY1, clock)
        if when > until:
            break
        recorder.run(command, actor, when)
    recorder.save()
    if until >= at(DAY1, "11:30"):
        for question_id, voter in ((1, "Bruno"), (1, "Chloé"), (3, "Alice")):
            session.add(
                QuestionVote(
                    event_id=s.event_id, question_id=question_id, voter=f"a:{s.people[voter]}", at=at(DAY1, "11:30")
                )
            )


@pytest.fixture()
def scenario(sqlite_parley) -> Iterator[Scenario]:  # type: ignore[no-untyped-def]
    engine = make_sync_engine(sqlite_parley.settings())
    yield build_scenario(engine)
    engine.dispose()


def build(s: Scenario, scope: str = "2022-02-28", now: datetime = NOW, threshold: float = 0.5) -> reports.Report:
    with Session(s.engine) as session:
        return reports.build(session, s.event_id, scope, stale_after=STALE_AFTER, now=now, threshold=threshold)


def rows_by(table: reports.model.Table, column: str) -> dict[Any, dict[str, Any]]:
    keys = [c.key for c in table.columns]
    return {row[keys.index(column)]: dict(zip(keys, row, strict=True)) for row in table.rows}


# -- the figures -----------------------------------------------------------------------------------


def test_each_attendee_minutes_shares_threshold_and_first_and_last_instants(scenario: Scenario) -> None:
    report = build(scenario)
    people = rows_by(report.table("attendees"), "name")
    assert list(people) == ["=1+2", "Alice Martin", "Bruno Costa", "Chloé Dubois", "Dmitri Ivanov"]
    alice, bruno, chloe, mallory, dmitri = (
        people[n] for n in ("Alice Martin", "Bruno Costa", "Chloé Dubois", "=1+2", "Dmitri Ivanov")
    )
    # minutes present, share of the 190-minute window, and the 50 % threshold (Chloé exactly on it)
    assert [(p["minutes_present"], p["share_pct"], p["attended"]) for p in (alice, bruno, chloe, mallory, dmitri)] == [
        (190.0, 100.0, True),
        (90.0, 47.4, False),
        (95.0, 50.0, True),
        (30.0, 15.8, False),
        (20.0, 10.5, False),
    ]
    # share of each segment: opening 30 min, panel 1 75 min, panel 2 10:45-12:10 = 85 min
    shares = ("share_d1-opening_pct", "share_d1-panel-1_pct", "share_d1-panel-2_pct")
    assert [alice[k] for k in shares] == [100.0, 100.0, 100.0]
    assert [bruno[k] for k in shares] == [66.7, 93.3, 0.0]
    assert [chloe[k] for k in shares] == [100.0, 86.7, 0.0]
    assert [mallory[k] for k in shares] == [0.0, 0.0, 35.3]
    assert [dmitri[k] for k in shares] == [0.0, 0.0, 23.5]
    # first join is when they connected (before the start for Alice); last leave is capped at the
    # morning's end for whoever stayed; an open row seen last at 11:30 ends at 11:30
    assert alice["first_join_local"] == at(DAY1, "08:50") and alice["last_leave_local"] == at(DAY1, "12:10")
    assert bruno["first_join_local"] == at(DAY1, "09:10") and bruno["last_leave_local"] == at(DAY1, "10:40")
    assert mallory["last_leave_local"] == at(DAY1, "11:30")
    assert dmitri["first_join_local"] == at(DAY1, "11:50") and dmitri["last_leave_local"] == at(DAY1, "12:10")
    assert alice["email"] == "alice.martin@example.org" and alice["category"] == "member_state"
    assert alice["country"] == "FR" and alice["language"] == "fr" and alice["organisation"] == "Mission of France"


def test_first_join_and_last_leave_are_written_in_new_york_time_and_utc(scenario: Scenario, tmp_path: Path) -> None:
    done = reports.compile_report(
        scenario.engine, tmp_path, scenario.event_id, "2022-02-28", now=NOW, stale_after=STALE_AFTER
    )
    with zipfile.ZipFile(done.files["csv.zip"]) as archive:
        rows = list(csv.DictReader(io.StringIO(archive.read("attendees.csv").decode("utf-8-sig"))))
    alice = next(r for r in rows if r["name"] == "Alice Martin")
    assert alice["first_join_local"] == "2022-02-28T08:50:00-05:00"
    assert alice["first_join_utc"] == "2022-02-28T13:50:00Z"
    assert alice["last_leave_local"] == "2022-02-28T12:10:00-05:00"
    assert alice["last_leave_utc"] == "2022-02-28T17:10:00Z"
    assert alice["minutes_present"] == "190.0" and alice["attended"] == "yes"


def test_segments_unique_attendees_peak_average_and_median(scenario: Scenario) -> None:
    segments = rows_by(build(scenario).table("segments"), "segment")
    assert list(segments) == ["d1-opening", "d1-panel-1", "d1-panel-2"]
    opening, panel1, panel2 = segments.values()
    assert (opening["start_local"], opening["end_local"], opening["minutes"]) == (
        at(DAY1, "09:00"),
        at(DAY1, "09:30"),
        30.0,
    )
    assert (panel2["start_local"], panel2["end_local"], panel2["minutes"]) == (
        at(DAY1, "10:45"),
        at(DAY1, "12:10"),
        85.0,
    )
    # opening: Alice 30, Bruno 20, Chloé 30
    assert (opening["unique_attendees"], opening["peak_concurrent"], opening["peak_at_local"]) == (
        3,
        3,
        at(DAY1, "09:10"),
    )
    assert (opening["average_minutes"], opening["median_minutes"], opening["attended"]) == (26.7, 30.0, 3)
    # panel 1: Alice 75, Bruno 70, Chloé 65
    assert (panel1["unique_attendees"], panel1["peak_concurrent"], panel1["peak_at_local"]) == (3, 3, at(DAY1, "09:30"))
    assert (panel1["average_minutes"], panel1["median_minutes"], panel1["attended"]) == (70.0, 70.0, 3)
    # panel 2: Alice 85, Mallory 30, Dmitri 20; never more than two at once
    assert (panel2["unique_attendees"], panel2["peak_concurrent"], panel2["peak_at_local"]) == (3, 2, at(DAY1, "11:00"))
    assert (panel2["average_minutes"], panel2["median_minutes"], panel2["attended"]) == (45.0, 30.0, 1)


def test_attendance_by_category_and_country(scenario: Scenario) -> None:
    report = build(scenario)
    by_category = [r for r in report.table("by_category").rows]
    whole = {row[1]: row[2:] for row in by_category if row[0] == "(all)"}
    assert whole == {
        "member_state": (1, 1, 190.0),
        "civil_society": (1, 0, 90.0),
        "academia": (1, 1, 95.0),
        "media": (1, 0, 30.0),
        "un_system": (1, 0, 20.0),
    }
    panel2 = {row[1]: row[2] for row in by_category if row[0] == "d1-panel-2"}
    assert panel2 == {"member_state": 1, "media": 1, "un_system": 1}
    by_country = {row[1]: row[2:] for row in report.table("by_country").rows if row[0] == "(all)"}
    assert by_country == {"FR": (2, 2, 142.5), "BR": (1, 0, 90.0), "+33": (1, 0, 30.0), "(none)": (1, 0, 20.0)}
    assert [row[1] for row in report.table("by_country").rows if row[0] == "(all)"][0] == "FR", "largest group first"


def test_timeline_counts_each_minute_once_per_person(scenario: Scenario) -> None:
    report = build(scenario)
    rows = report.table("timeline").rows
    assert len(rows) == 190 and rows[0][0] == at(DAY1, "09:00") and rows[-1][0] == at(DAY1, "12:09")
    present = {row[0]: row[2] for row in rows}
    expected = {
        "09:00": 2,
        "09:09": 2,
        "09:10": 3,
        "10:34": 3,
        "10:35": 2,
        "10:39": 2,
        "10:40": 1,
        "10:59": 1,
        "11:00": 2,
        "11:29": 2,
        "11:30": 1,
        "11:49": 1,
        "11:50": 2,
        "12:09": 2,
    }
    assert {clock: present[at(DAY1, clock)] for clock in expected} == expected
    segment_of = {row[0]: row[3] for row in rows}
    assert segment_of[at(DAY1, "09:29")] == "d1-opening" and segment_of[at(DAY1, "09:30")] == "d1-panel-1"
    assert segment_of[at(DAY1, "12:05")] == "d1-panel-2"
    assert report.timelines[0].minutes[0] == (at(DAY1, "09:00"), 2)


def test_no_shows_are_registered_before_the_end_and_never_present(scenario: Scenario) -> None:
    report = build(scenario)
    assert [row[1] for row in report.table("no_shows").rows] == ["Eve Keller", "Hugo Second", "Ivan Early"]
    summary = {key: value for key, _, value in report.summary}
    assert (summary["registered"], summary["joined"], summary["attended"], summary["no_shows"]) == (8, 5, 2, 3)
    assert (summary["peak_concurrent"], summary["average_minutes"], summary["median_minutes"]) == (3, 85.0, 90.0)
    assert summary["peak_at"] == "2022-02-28 09:10:00 local" and summary["complete"] == "yes"


def test_speakers_from_the_floor_and_for_how_long(scenario: Scenario) -> None:
    report = build(scenario)
    speeches = rows_by(report.table("speeches"), "speaker")
    assert list(speeches) == ["Pat Panel", "Bruno", "Chloé"]
    assert [(s["source"], s["duration_s"], s["duration"]) for s in speeches.values()] == [
        ("programme", 420, "7:00"),
        ("floor", 210, "3:30"),
        ("floor", 60, "1:00"),
    ]
    bruno = speeches["Bruno"]
    assert (bruno["on_behalf_of"], bruno["topic"], bruno["email"], bruno["country"]) == (
        "Brazil",
        "Funding",
        "bruno.costa@example.org",
        "BR",
    )
    assert bruno["started_local"] == at(DAY1, "10:00") and bruno["ended_local"] == at(DAY1, "10:03:30")
    assert speeches["Chloé"]["point_of_order"] is True and speeches["Chloé"]["segment"] == "d1-panel-1"
    summary = {key: value for key, _, value in report.summary}
    assert (summary["floor_speeches"], summary["floor_minutes"], summary["programme_speeches"]) == (2, 4.5, 1)


def test_questions_votes_answers_and_moderation_decisions(scenario: Scenario) -> None:
    report = build(scenario)
    questions = rows_by(report.table("questions"), "question_id")
    assert [(q["status"], q["answered"], q["votes"]) for q in questions.values()] == [
        ("answered", True, 2),
        ("dismissed", False, 0),
        ("archived", False, 1),
        ("pending", False, 0),
    ]
    q1, q2, q3, q4 = questions.values()
    assert (q1["text"], q1["original_text"], q1["asker"]) == (
        "How are the funds allocated?",
        "How are funds allocated?",
        "Alice",
    )
    assert q1["answered_local"] == at(DAY1, "11:05") and q1["email"] == "alice.martin@example.org"
    assert (
        q3["anonymous"] is True and q3["asker"] == "Bruno" and q3["text"] == "Why are there so few women on the panels?"
    )
    assert q2["text"] == "=cmd|' /C calc'!A0" and q4["segment"] == "d1-panel-2"
    decisions = [(row[4], row[2], row[5], row[0]) for row in report.table("qa_decisions").rows]
    assert decisions == [
        ("asked", 1, "Alice Martin", at(DAY1, "10:50")),
        ("approved", 1, "Mia Moderator", at(DAY1, "10:52")),
        ("asked", 2, "=1+2", at(DAY1, "11:01")),
        ("dismissed", 2, "Mia Moderator", at(DAY1, "11:02")),
        ("restored", 2, "Mia Moderator", at(DAY1, "11:03")),
        ("dismissed", 2, "Mia Moderator", at(DAY1, "11:04")),
        ("answered", 1, "Mia Moderator", at(DAY1, "11:05")),
        ("asked", 3, "Bruno Costa", at(DAY1, "11:10")),
        ("edited", 3, "Mia Moderator", at(DAY1, "11:11")),
        ("approved", 3, "Mia Moderator", at(DAY1, "11:12")),
        ("archived", 3, "Mia Moderator", at(DAY1, "11:20")),
        ("asked", 4, "Dmitri Ivanov", at(DAY1, "11:55")),
        ("moderation off", None, "Mia Moderator", at(DAY1, "11:58")),
        ("moderation on", None, "Mia Moderator", at(DAY1, "11:59")),
    ]
    summary = {key: value for key, _, value in report.summary}
    assert (summary["questions"], summary["questions_published"], summary["questions_answered"]) == (4, 2, 1)
    assert (summary["questions_dismissed"], summary["questions_pending"], summary["votes"]) == (1, 1, 3)


def test_the_threshold_is_configurable(scenario: Scenario) -> None:
    def attended(threshold: float) -> set[str]:
        table = build(scenario, threshold=threshold).table("attendees")
        return {row[1] for row in table.rows if row[13]}

    assert attended(0.5) == {"Alice Martin", "Chloé Dubois"}
    assert attended(0.45) == {"Alice Martin", "Chloé Dubois", "Bruno Costa"}
    assert attended(0.75) == {"Alice Martin"}
    header = build(scenario, threshold=0.75).table("attendees").columns[13].title
    assert header == "Attended (≥ 75%)"


def test_the_whole_event_adds_the_mornings(scenario: Scenario) -> None:
    report = build(scenario, "event", now=LATER)
    assert report.complete and report.scope_label == "Whole event (2 mornings)"
    people = rows_by(report.table("attendees"), "name")
    alice = people["Alice Martin"]
    # day two never went live: its one segment counts as scheduled, 09:00-12:00; Alice was there 150 min
    assert (alice["minutes_2022-02-28"], alice["minutes_2022-03-01"], alice["minutes_present"]) == (190.0, 150.0, 340.0)
    assert alice["share_pct"] == 91.9 and alice["share_d2-panel_pct"] == 83.3
    assert alice["last_leave_local"] == at(DAY2, "12:00")
    assert people["Hugo Second"]["minutes_present"] == 60.0
    # Frank registered on the afternoon of day one: a no-show for the event, not for day one
    assert [row[1] for row in report.table("no_shows").rows] == ["Eve Keller", "Frank Late", "Ivan Early"]
    assert len(report.table("timeline").rows) == 190 + 180
    assert [row[0] for row in report.table("segments").rows] == ["d1-opening", "d1-panel-1", "d1-panel-2", "d2-panel"]


def test_an_unknown_morning_is_refused(scenario: Scenario) -> None:
    for scope in ("2022-03-05", "yesterday"):
        with pytest.raises(reports.UnknownScope):
            build(scenario, scope)


# -- when a morning is over ---------------------------------------------------------------------------


def _facts(
    opened: str | None = None, ended: str | None = None, key: str = "s", start: str = "10:00", end: str = "12:00"
) -> SegmentFacts:
    return SegmentFacts(
        1,
        key,
        "panel",
        key,
        DAY1,
        at(DAY1, start),
        at(DAY1, end),
        at(DAY1, opened) if opened else None,
        at(DAY1, ended) if ended else None,
    )


DAY = DayFacts(DAY1, at(DAY1, "09:00"), at(DAY1, "12:00"), "Day one")


def test_a_morning_ends_by_the_clock_or_when_the_moderator_ends_its_last_segment() -> None:
    scheduled = morning_window(DAY, [_facts()], at(DAY1, "11:59"))
    assert not scheduled.final and scheduled.until == at(DAY1, "11:59")
    assert morning_window(DAY, [_facts()], at(DAY1, "12:00")).final
    early = morning_window(DAY, [_facts("10:00", "11:40")], at(DAY1, "11:41"))
    assert early.final and early.closed_by_moderator and early.end == at(DAY1, "11:40")
    late = morning_window(DAY, [_facts("10:00")], at(DAY1, "12:30"))
    assert not late.final and late.until == at(DAY1, "12:30"), "a running segment keeps the morning open"
    forgotten = morning_window(DAY, [_facts("10:00")], at(DAY1, "12:00") + LIVE_SEGMENT_GRACE)
    assert forgotten.final and forgotten.end == at(DAY1, "12:00") + LIVE_SEGMENT_GRACE
    opened_early = morning_window(DAY, [_facts("08:55", "12:05", start="09:00")], at(DAY1, "13:00"))
    assert (opened_early.start, opened_early.end) == (at(DAY1, "08:55"), at(DAY1, "12:05"))
    not_begun = morning_window(DAY, [_facts()], at(DAY1, "08:00"))
    assert not not_begun.started and not not_begun.final


def test_a_segment_opened_on_another_day_leaves_the_morning_within_its_day() -> None:
    """Opened (and ended) years later: the morning's window stops a bounded margin after its scheduled
    end, and the report of it is final, whatever the log says."""
    later = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    years_later = SegmentFacts(2, "late", "panel", "late", DAY1, at(DAY1, "11:00"), at(DAY1, "12:00"), later, None)
    for facts in ([_facts(), years_later], [_facts(), replace(years_later, ended_at=later + timedelta(hours=1))]):
        window = morning_window(DAY, facts, later + timedelta(hours=2))
        assert window.start == at(DAY1, "09:00")
        assert window.end <= at(DAY1, "12:00") + REPORT_MARGIN_AFTER and window.final
        assert all(span.seconds == 0 for segment, span in window.segments if segment.key == "late")
    before = replace(years_later, opened_at=datetime(2020, 1, 1, tzinfo=UTC), ended_at=None)
    window = morning_window(DAY, [_facts(), before], at(DAY1, "13:00"))
    assert window.start >= at(DAY1, "09:00") - REPORT_MARGIN_BEFORE


def test_the_report_of_a_morning_with_a_segment_opened_years_later_is_a_few_hours(scenario: Scenario) -> None:
    """The log as it was before the rule: the morning's last segment was ended, then opened again and
    ended in 2026. The report stays on its morning: a few hours of minutes, not years."""
    with Session(scenario.engine) as session, session.begin():
        row = session.execute(select(LiveStateRow).where(LiveStateRow.event_id == scenario.event_id)).scalar_one()
        state = dict(row.state)
        public = dict(state["public"])
        segments = [dict(s) for s in public["segments"]]
        for segment in segments:
            if segment["key"] == "d1-panel-2":
                segment["opened_at"] = "2026-11-30T15:00:00Z"
                segment["ended_at"] = "2026-11-30T16:00:00Z"
                segment["status"] = "ended"
        public["segments"] = segments
        state["public"] = public
        row.state = state
    report = build(scenario, now=datetime(2026, 12, 1, tzinfo=UTC))
    rows = report.table("timeline").rows
    assert rows[0][0] == at(DAY1, "09:00")
    assert rows[-1][0] < at(DAY1, "12:00") + REPORT_MARGIN_AFTER
    assert len(rows) <= (3 * 60 + REPORT_MARGIN_AFTER.total_seconds() / 60), "minutes of one morning, not years"


def test_scan_compiles_each_morning_once_when_it_is_over(sqlite_parley, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    engine = make_sync_engine(sqlite_parley.settings())
    s = build_scenario(engine, live_until=at(DAY1, "11:00"))  # panel 2 is live
    data_dir = tmp_path / "reports-data"

    def scan(now: datetime) -> list[str]:
        return [c.scope for c in reports.scan_due(engine, data_dir, now=now, stale_after=STALE_AFTER)]

    assert scan(at(DAY1, "11:30")) == []
    assert scan(at(DAY1, "12:05")) == [], "past the scheduled end, but the moderator has not ended it"
    # the moderator ends the last segment at 12:10: the morning is over
    with Session(engine) as session, session.begin():
        session.query(EventLogEntry).delete()
        session.query(LiveStateRow).delete()
        session.query(QuestionVote).delete()
        play_morning(session, s, at(DAY1, "12:10"))
    assert scan(at(DAY1, "12:11")) == ["2022-02-28"]
    assert store.is_complete(data_dir, "report-test", "2022-02-28")
    first = {fmt: p.read_bytes() for fmt, p in _files(data_dir, "report-test").items()}
    assert scan(at(DAY1, "12:12")) == [], "compiled once"
    assert scan(at(DAY2, "11:59")) == []
    assert scan(at(DAY2, "12:00")) == ["2022-03-01", "event"], "by the clock; then the whole event"
    assert scan(at(DAY2, "13:00")) == []
    assert {fmt: p.read_bytes() for fmt, p in _files(data_dir, "report-test").items()} == first
    engine.dispose()


def test_an_on_demand_report_during_the_morning_does_not_stop_the_final_one(sqlite_parley, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    engine = make_sync_engine(sqlite_parley.settings())
    s = build_scenario(engine, live_until=None)  # nothing opened: the schedule counts
    partial = reports.compile_report(
        engine, tmp_path, s.event_id, "2022-02-28", now=at(DAY1, "10:00"), stale_after=STALE_AFTER
    )
    assert not partial.complete and not store.is_complete(tmp_path, "report-test", "2022-02-28")
    with Session(engine) as session:
        report = reports.build(session, s.event_id, "2022-02-28", now=at(DAY1, "10:00"), stale_after=STALE_AFTER)
    assert len(report.table("timeline").rows) == 60
    assert rows_by(report.table("attendees"), "name")["Alice Martin"]["minutes_present"] == 60.0
    assert "no: morning in progress" in report.summary_value("complete")
    assert [c.scope for c in reports.scan_due(engine, tmp_path, now=at(DAY1, "12:00"), stale_after=STALE_AFTER)] == [
        "2022-02-28"
    ]
    engine.dispose()


# -- the files ---------------------------------------------------------------------------------------


def _files(data_dir: Path, slug: str, scope: str = "2022-02-28") -> dict[str, Path]:
    return {fmt: store.report_path(data_dir, slug, scope, fmt) for fmt in reports.FORMATS}


def test_csv_zip_has_one_file_per_table_and_neutralises_formulas(scenario: Scenario, tmp_path: Path) -> None:
    done = reports.compile_report(
        scenario.engine, tmp_path, scenario.event_id, "2022-02-28", now=NOW, stale_after=STALE_AFTER
    )
    assert done.files["csv.zip"] == tmp_path / "reports" / "report-test" / "2022-02-28.csv.zip"
    with zipfile.ZipFile(done.files["csv.zip"]) as archive:
        assert archive.namelist() == [
            "summary.csv",
            "attendees.csv",
            "segments.csv",
            "by_category.csv",
            "by_country.csv",
            "timeline.csv",
            "no_shows.csv",
            "speeches.csv",
            "questions.csv",
            "qa_decisions.csv",
            "polls.csv",
            "poll_categories.csv",
            "poll_ballots.csv",
            "statements.csv",
        ]
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        tables = {
            name: list(csv.reader(io.StringIO(archive.read(name).decode("utf-8-sig")))) for name in archive.namelist()
        }
    mallory = next(r for r in tables["attendees.csv"] if r[1].endswith("=1+2"))
    assert mallory[1:6] == ["'=1+2", "eq1plus2@example.org", "'@evil", "media", "'+33"]
    assert ["2", "d1-panel-2"] == next(r for r in tables["questions.csv"] if r[0] == "2")[:2]
    assert next(r for r in tables["questions.csv"] if r[0] == "2")[9] == "'=cmd|' /C calc'!A0"
    summary = {row[0]: row[2] for row in tables["summary.csv"][1:]}
    assert (summary["joined"], summary["no_shows"], summary["peak_concurrent"]) == ("5", "3", "3")
    assert len(tables["timeline.csv"]) == 191 and tables["timeline.csv"][1] == [
        "2022-02-28T09:00:00-05:00",
        "2022-02-28T14:00:00Z",
        "2",
        "d1-opening",
    ]


@pytest.mark.parametrize("text", ["=SUM(A1)", "+1", "-2", "@x", "\tx", "\rx"])
def test_every_formula_start_is_neutralised(text: str) -> None:
    assert neutralise(text) == "'" + text
    assert neutralise("plain " + text) == "plain " + text


def test_xlsx_has_a_summary_and_one_sheet_per_table_with_text_never_formulas(
    scenario: Scenario, tmp_path: Path
) -> None:
    done = reports.compile_report(
        scenario.engine, tmp_path, scenario.event_id, "2022-02-28", now=NOW, stale_after=STALE_AFTER
    )
    book = openpyxl.load_workbook(done.files["xlsx"])
    assert book.sheetnames == [
        "summary",
        "attendees",
        "segments",
        "by_category",
        "by_country",
        "timeline",
        "no_shows",
        "speeches",
        "questions",
        "qa_decisions",
        "polls",
        "poll_categories",
        "poll_ballots",
        "statements",
    ]
    summary = {row[0]: row[1] for row in book["summary"].iter_rows(values_only=True) if row and row[0]}
    assert summary[TITLE] is None and summary["Joined"] == 5 and summary["Peak concurrent attendees"] == 3
    assert summary["Attendance threshold (% of the time)"] == 50.0
    sheet = book["attendees"]
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["Registration", "Name", "Email"] and "First join (local)" in header
    rows = {r[1]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    alice = rows["Alice Martin"]
    # spreadsheet cells hold naive wall-clock values: the column names the zone
    assert alice[header.index("First join (local)")] == datetime(2022, 2, 28, 8, 50)  # noqa: DTZ001
    assert alice[header.index("First join (UTC)")] == datetime(2022, 2, 28, 13, 50)  # noqa: DTZ001
    assert alice[header.index("Minutes present")] == 190.0 and alice[header.index("Attended (≥ 50%)")] == "yes"
    formula_cell = next(c for c in sheet["B"] if c.value == "'=1+2")
    assert formula_cell.data_type == "s"
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type not in ("f", "e"), f"{ws.title}!{cell.coordinate} is a formula or an error"
    assert next(r for r in book["no_shows"].iter_rows(min_row=2, values_only=True) if r[1] == "Eve Keller")[3] == "#N/A"
    questions = {r[0]: r for r in book["questions"].iter_rows(min_row=2, values_only=True)}
    assert questions[2][9] == "'=cmd|' /C calc'!A0" and questions[1][14] == 2
    assert book["timeline"].max_row == 191


def test_pdf_is_a_readable_summary_with_the_chart(scenario: Scenario, tmp_path: Path) -> None:
    done = reports.compile_report(
        scenario.engine, tmp_path, scenario.event_id, "2022-02-28", now=NOW, stale_after=STALE_AFTER
    )
    reader = pypdf.PdfReader(done.files["pdf"])
    assert 1 <= len(reader.pages) <= 4
    text = "\n".join(page.extract_text() for page in reader.pages)
    for expected in (
        TITLE,
        "Morning of Monday 28 February 2022",
        "Peak concurrent attendees",
        "Attendees present per minute",
        "Speakers from the floor (2)",
        "Bruno",
        "3:30",
        "How are the funds allocated?",
        "Questions (4)",
        "d1-panel-2",
        "member_state",
    ):
        assert expected in text, expected
    assert reader.metadata.title.startswith(TITLE)
    # the chart is drawn: the step line has a point per minute boundary
    content = reader.pages[0].get_contents().get_data() + b"".join(
        p.get_contents().get_data() for p in reader.pages[1:]
    )
    assert content.count(b" l\n") + content.count(b" l ") > 190


def test_compiling_again_gives_byte_identical_files(scenario: Scenario, tmp_path: Path) -> None:
    first = reports.compile_report(
        scenario.engine, tmp_path, scenario.event_id, "2022-02-28", now=NOW, stale_after=STALE_AFTER
    )
    hashes = {fmt: hashlib.sha256(p.read_bytes()).hexdigest() for fmt, p in first.files.items()}
    again = reports.compile_report(
        scenario.engine, tmp_path, scenario.event_id, "2022-02-28", now=NOW, stale_after=STALE_AFTER
    )
    assert {fmt: hashlib.sha256(p.read_bytes()).hexdigest() for fmt, p in again.files.items()} == hashes
    # a final report does not depend on when it is compiled (Dmitri's open row is stale by then)
    later = reports.compile_report(
        scenario.engine, tmp_path, scenario.event_id, "2022-02-28", now=LATER, stale_after=STALE_AFTER
    )
    assert {fmt: hashlib.sha256(p.read_bytes()).hexdigest() for fmt, p in later.files.items()} == hashes
    assert sorted(p.name for p in first.files["pdf"].parent.iterdir() if not p.name.startswith(".")) == [
        "2022-02-28.csv.zip",
        "2022-02-28.json",
        "2022-02-28.pdf",
        "2022-02-28.xlsx",
    ]


# -- atomic files -------------------------------------------------------------------------------------


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "r" / "2022-02-28.pdf"
    store.write_atomic(path, b"old report")

    def broken_fsync(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        store.write_atomic(path, b"new report, half written")
    assert path.read_bytes() == b"old report"
    assert [p.name for p in path.parent.iterdir()] == ["2022-02-28.pdf"]


def test_a_reader_never_sees_half_a_file(tmp_path: Path) -> None:
    path = tmp_path / "2022-02-28.xlsx"
    versions = [bytes([n]) * 2_000_000 for n in range(1, 4)]
    store.write_atomic(path, versions[0])
    stop = threading.Event()
    seen: list[bytes] = []

    def read() -> None:
        while not stop.is_set():
            seen.append(path.read_bytes())

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for round_ in range(30):
            store.write_atomic(path, versions[round_ % 3])
    finally:
        stop.set()
        reader.join()
    assert seen and all(content in versions for content in seen)


def test_report_paths_cannot_leave_the_folder(tmp_path: Path) -> None:
    for scope, fmt in (("../x", "pdf"), ("2022-02-28", "exe"), ("event", "pdf/../../x"), ("2022-2-28", "pdf")):
        with pytest.raises(ValueError):
            store.report_path(tmp_path, "report-test", scope, fmt)
    with pytest.raises(ValueError):
        store.folder(tmp_path, "../etc")


# -- the dashboard timeline ---------------------------------------------------------------------------


def test_the_dashboard_timeline_of_a_morning(scenario: Scenario) -> None:
    with Session(scenario.engine) as session:
        day = reports.read_day(session, scenario.event_id, DAY1, NOW, stale_after=STALE_AFTER)
    payload = reports.day_timeline(day)
    assert payload["day"] == "2022-02-28" and len(payload["minutes"]) == 190
    assert payload["minutes"][10] == {"minute": "2022-02-28T09:10:00-05:00", "present": 3}
    assert payload["segments"] == [
        {"id": scenario.segments["d1-opening"], "title": "Title of d1-opening", "unique_attendees": 3, "peak": 3},
        {"id": scenario.segments["d1-panel-1"], "title": "Title of d1-panel-1", "unique_attendees": 3, "peak": 3},
        {"id": scenario.segments["d1-panel-2"], "title": "Title of d1-panel-2", "unique_attendees": 3, "peak": 2},
    ]
    with Session(scenario.engine) as session, pytest.raises(reports.UnknownScope):
        reports.read_day(session, scenario.event_id, date(2022, 3, 9), NOW, stale_after=STALE_AFTER)


def test_without_dejavu_the_pdf_falls_back_to_helvetica(scenario: Scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    from server.services.reports import pdf

    monkeypatch.setattr(pdf, "FONT_DIRS", ())
    pdf.fonts.cache_clear()
    try:
        assert pdf.printable("Chloé – Łódź") == "Chloé – ?ódz"
        document = pdf.write_pdf(build(scenario))
    finally:
        pdf.fonts.cache_clear()
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(document)).pages)
    assert TITLE in text and "Chloé" in text
