"""Written statements in the report: the approved ones per segment, in every format, and the counts."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import openpyxl
import pypdf
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.adapters.db.engine import make_sync_engine
from server.adapters.db.models import Segment
from server.core import new_live_state
from server.core.model import SegmentInfo
from server.core.state import Actor
from server.protocol import (
    FloorRequest,
    SegmentEnd,
    SegmentOpen,
    StatementApprove,
    StatementReject,
    StatementSubmit,
)
from server.services import reports
from tests.fixtures.parley import STALE_AFTER
from tests.test_reports import DAY1, NOW, Recorder, Scenario, at, build_scenario

FRENCH = "La France soutient le pacte.\nElle demande des voies régulières."
SPANISH = "Brasil apoya la cooperación regional."


def _play(scenario: Scenario) -> None:
    """Panel 1 ends with Alice, Bruno and Chloé waiting; panel 2 with Hugo. Alice (fr) and Hugo (en)
    are approved, Bruno rejected then approved in Spanish, Chloé rejected, Ivan never reached."""
    with Session(scenario.engine) as session, session.begin():
        segments = session.execute(select(Segment).where(Segment.event_id == scenario.event_id)).scalars().all()
        infos = [
            SegmentInfo(
                id=s.id, key=s.key, kind=s.kind, day=DAY1, title=s.title, starts_at=s.starts_at, ends_at=s.ends_at
            )
            for s in segments
            if s.key.startswith("d1")
        ]
        recorder = Recorder(session, scenario.event_id, new_live_state(infos))
        mia = Actor(scenario.moderator_id, "moderator", "Mia Moderator", kind="staff")

        def person(first: str, organisation: str | None = None) -> Actor:
            return Actor(scenario.people[first], "attendee", first, organisation, kind="attendee")

        alice, bruno = person("Alice", "Mission of France"), person("Bruno", "ONG Brasil")
        chloe, hugo = person("Chloé", "Sorbonne"), person("Hugo", "El País")
        seg = scenario.segments
        script = [
            ("09:30", SegmentOpen(cid="1", segment_id=seg["d1-panel-1"]), mia),
            ("09:40", FloorRequest(cid="2", on_behalf_of="France"), alice),
            ("09:41", FloorRequest(cid="3", on_behalf_of="Brazil"), bruno),
            ("09:42", FloorRequest(cid="4"), chloe),
            ("10:45", SegmentEnd(cid="5", segment_id=seg["d1-panel-1"]), mia),
            ("10:45", SegmentOpen(cid="6", segment_id=seg["d1-panel-2"]), mia),
            ("11:00", FloorRequest(cid="7"), hugo),
            ("11:01", StatementSubmit(cid="8", segment_id=seg["d1-panel-1"], language="fr", text=FRENCH), alice),
            ("11:02", StatementSubmit(cid="9", segment_id=seg["d1-panel-1"], language="en", text="Draft"), bruno),
            ("11:03", StatementSubmit(cid="10", segment_id=seg["d1-panel-1"], language="fr", text="Hors sujet"), chloe),
            ("11:04", StatementReject(cid="11", statement_id=2, reason="Please write it out"), mia),
            ("11:05", StatementSubmit(cid="12", segment_id=seg["d1-panel-1"], language="es", text=SPANISH), bruno),
            ("11:06", StatementReject(cid="13", statement_id=3), mia),
            ("11:07", StatementApprove(cid="14", statement_id=2), mia),
            ("11:08", StatementApprove(cid="15", statement_id=1), mia),
            ("12:10", SegmentEnd(cid="16", segment_id=seg["d1-panel-2"]), mia),
            ("12:11", StatementSubmit(cid="17", segment_id=seg["d1-panel-2"], language="en", text="Thank you."), hugo),
            ("12:12", StatementApprove(cid="18", statement_id=4), mia),
        ]
        for clock, command, actor in script:
            recorder.run(command, actor, at(DAY1, clock))
        recorder.save()


def test_the_report_lists_approved_statements_per_segment_and_counts_every_decision(
    sqlite_parley,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    engine = make_sync_engine(sqlite_parley.settings())
    scenario = build_scenario(engine, live_until=None)
    _play(scenario)
    with Session(engine) as session:
        report = reports.build(session, scenario.event_id, "2022-02-28", now=NOW, stale_after=STALE_AFTER)
    table = report.table("statements")
    keys = [c.key for c in table.columns]
    rows = [dict(zip(keys, row, strict=True)) for row in table.rows]
    assert [(r["segment"], r["author"], r["organisation"], r["on_behalf_of"], r["language"]) for r in rows] == [
        ("d1-panel-1", "Alice", "Mission of France", "France", "fr"),
        ("d1-panel-1", "Bruno", "ONG Brasil", "Brazil", "es"),
        ("d1-panel-2", "Hugo", "El País", "", "en"),
    ]
    assert rows[0]["text"] == FRENCH and rows[1]["text"] == SPANISH  # the approved version, as written
    assert rows[1]["published_local"] == at(DAY1, "11:07")
    counts = {
        key: report.summary_value(f"statements_{key}") for key in ("submitted", "approved", "rejected", "pending")
    }
    assert counts == {"submitted": 4, "approved": 3, "rejected": 1, "pending": 0}

    done = reports.compile_report(engine, tmp_path, scenario.event_id, "2022-02-28", now=NOW, stale_after=STALE_AFTER)
    with zipfile.ZipFile(done.files["csv.zip"]) as archive:
        written = list(csv.DictReader(io.StringIO(archive.read("statements.csv").decode("utf-8-sig"))))
        summary = {
            r["key"]: r["value"] for r in csv.DictReader(io.StringIO(archive.read("summary.csv").decode("utf-8-sig")))
        }
    assert [(r["author"], r["language"], r["text"]) for r in written] == [
        ("Alice", "fr", FRENCH),
        ("Bruno", "es", SPANISH),
        ("Hugo", "en", "Thank you."),
    ]
    assert (summary["statements_submitted"], summary["statements_rejected"]) == ("4", "1")
    sheet = openpyxl.load_workbook(done.files["xlsx"])["statements"]
    assert [row[2] for row in sheet.iter_rows(min_row=2, values_only=True)] == ["Alice", "Bruno", "Hugo"]
    pdf_text = " ".join(" ".join(page.extract_text().split()) for page in pypdf.PdfReader(done.files["pdf"]).pages)
    assert "Written statements (3 approved; 4 submitted, 1 rejected, 0 awaiting a decision)" in pdf_text
    assert "Brasil apoya la cooperación regional." in pdf_text
    assert "language: es" in pdf_text
    assert "Hors sujet" not in pdf_text  # rejected: counted, never printed
    engine.dispose()


def test_a_morning_without_statements_says_so(sqlite_parley) -> None:  # type: ignore[no-untyped-def]
    engine = make_sync_engine(sqlite_parley.settings())
    scenario = build_scenario(engine)
    with Session(engine) as session:
        report = reports.build(session, scenario.event_id, "2022-02-28", now=NOW, stale_after=STALE_AFTER)
    assert report.table("statements").rows == []
    assert report.summary_value("statements_submitted") == 0
    engine.dispose()
