"""Polls in the morning's report: each poll with its options and exact counts, the counts by
category of attendee (small groups pooled for anonymous polls), the ballots of named polls only,
in every format. Built from the golden morning (tests/golden_session.py), which plays two polls:
an anonymous single-choice one, published, and a named multiple-choice one kept for the staff."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import openpyxl
import pypdf
import pytest
from sqlalchemy import Engine, create_engine

from server.adapters.db import migrate
from server.services import reports
from server.services.reports.poll_tables import MIN_GROUP, category_groups
from tests.fixtures.parley import STALE_AFTER
from tests.records_golden import GOLDEN, REPORT_NOW, REPORT_SCOPE, Golden, golden_name

ANONYMOUS, NAMED = 1, 2


@pytest.fixture(scope="module")
def golden_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Engine, int, Path]:
    folder = tmp_path_factory.mktemp("polls")
    engine = create_engine(f"sqlite:///{folder / 'golden.db'}")
    migrate.upgrade(engine)
    golden = Golden.read(GOLDEN / golden_name())
    golden.load_into(engine)
    return engine, golden.event_id, folder


@pytest.fixture(scope="module")
def report(golden_db: tuple[Engine, int, Path]) -> reports.Report:
    engine, event_id, _ = golden_db
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        return reports.build(session, event_id, REPORT_SCOPE, now=REPORT_NOW, stale_after=STALE_AFTER)


def rows(report: reports.Report, name: str) -> list[dict[str, object]]:
    table = report.table(name)
    return [dict(zip([c.key for c in table.columns], row, strict=True)) for row in table.rows]


def test_each_poll_has_its_options_and_exact_counts(report: reports.Report) -> None:
    polls = rows(report, "polls")
    anonymous = [(r["option"], r["votes"], r["share_pct"]) for r in polls if r["poll_id"] == ANONYMOUS]
    # Ana, Ben (after changing his mind) and Chen chose Yes; Dana chose Abstain
    assert anonymous == [("Yes", 3, 75.0), ("No", 0, 0.0), ("Abstain", 1, 25.0)]
    named = [(r["option"], r["votes"]) for r in polls if r["poll_id"] == NAMED]
    assert named == [("Data", 1), ("Climate", 2), ("Labour", 0)]
    first = polls[0]
    facts = (first["ballots"], first["ballot"], first["results"], first["choice"])
    assert facts == (4, "anonymous", "published", "single")
    assert {r["results"] for r in polls if r["poll_id"] == NAMED} == {"staff only"}
    assert all(r["poll_id"] in (ANONYMOUS, NAMED) for r in polls), "a discarded draft is no poll of the report"
    assert report.summary_value("polls") == 2 and report.summary_value("poll_ballots") == 6


def test_counts_by_category_never_single_out_an_anonymous_voter(report: reports.Report) -> None:
    by_category = rows(report, "poll_categories")
    anonymous = [r for r in by_category if r["poll_id"] == ANONYMOUS]
    # four voters of four categories: one pooled row, the poll's totals
    assert {r["category"] for r in anonymous} == {"(all categories: academia, civil_society, media, member_state)"}
    assert all(r["ballots"] >= MIN_GROUP for r in anonymous)
    named = {(r["category"], r["option"]): r["votes"] for r in by_category if r["poll_id"] == NAMED}
    assert named[("member_state", "Data")] == 1 and named[("academia", "Climate")] == 1


def test_only_named_polls_list_who_chose_what(report: reports.Report) -> None:
    ballots = rows(report, "poll_ballots")
    assert [(r["poll_id"], r["name"], r["choices"]) for r in ballots] == [
        (NAMED, "Ana Silva", "Data | Climate"),
        (NAMED, "Chen Wei", "Climate"),
    ]
    # Ben and Dana voted only in the anonymous poll: no poll table names them
    polls_text = str([report.table(name).rows for name in ("polls", "poll_categories", "poll_ballots")])
    for who in ("Ben Okafor", "ben.okafor@example.org", "Dana Roy", "dana.roy@example.org"):
        assert who not in polls_text


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        ({"a": 5, "b": 4}, [("a", 5), ("b", 4)]),
        ({"a": 5, "b": 1, "c": 2}, [("a", 5), ("(other categories: b, c)", 3)]),
        ({"a": 5, "b": 3, "c": 1}, [("a", 5), ("(other categories: b, c)", 4)]),  # the pool of 1 takes b along
        ({"a": 2}, [("(all categories: a)", 2)]),
    ],
)
def test_small_categories_are_pooled_until_no_row_counts_fewer_than_three(
    groups: dict[str, int], expected: list[tuple[str, int]]
) -> None:
    ballots = {name: [(n, (1,)) for n in range(size)] for name, size in groups.items()}
    pooled = category_groups(ballots, anonymous=True)
    assert [(label, len(cast)) for label, cast in pooled] == expected
    named = category_groups(ballots, anonymous=False)
    assert [(label, len(cast)) for label, cast in named] == sorted(groups.items(), key=lambda kv: (-kv[1], kv[0]))


def test_every_format_carries_the_polls(golden_db: tuple[Engine, int, Path]) -> None:
    engine, event_id, folder = golden_db
    done = reports.compile_report(engine, folder, event_id, REPORT_SCOPE, now=REPORT_NOW, stale_after=STALE_AFTER)
    with zipfile.ZipFile(done.files["csv.zip"]) as archive:
        polls_csv = archive.read("polls.csv").decode("utf-8-sig")
        assert "Should the dialogue meet twice a year?" in polls_csv and "Abstain" in polls_csv
        assert "Chen Wei" in archive.read("poll_ballots.csv").decode("utf-8-sig")
    book = openpyxl.load_workbook(done.files["xlsx"], read_only=True)
    sheet = [row for row in book["polls"].iter_rows(values_only=True)]
    assert sheet[0][:2] == ("Poll", "Segment") and any(row[10] == "Climate" and row[11] == 2 for row in sheet[1:])
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(done.files["pdf"].read_bytes())).pages)
    assert "Polls (2)" in text and "Which themes next year?" in text
