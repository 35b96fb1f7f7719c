"""Certificates of attendance: issued from the reports' own figures, one page in the attendee's
language, a verification code that stays, the organisers' zip, and the scan that issues them.

The event is the reports' test morning (tests/test_reports.py): on 28 February Alice (190 of 190
minutes) and Chloé (exactly half) attended, Bruno (47.4 %) did not; on 1 March only Alice (150 of
180 minutes), Hugo came for 60; over the whole event only Alice (340 of 370 minutes).
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pypdf
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from server.adapters.db.engine import make_sync_engine
from server.adapters.db.models import Certificate, CertificateBatch, EventLogEntry, LiveStateRow, Presence, QuestionVote
from server.core.languages import INTERFACE_LANGUAGES
from server.services import certificates, reports
from server.services.certificates import bundle, codes
from server.services.certificates.labels import WORDS, dates_text
from server.services.certificates.model import Printed
from server.services.certificates.pdf import render
from server.services.certificates.throttle import VerifyThrottle
from tests.fixtures.parley import STALE_AFTER, Parley
from tests.test_reports import DAY1, DAY2, LATER, NOW, Scenario, at, build_scenario, play_morning

BASE = "https://parley.example.org"
SCOPES = (("2022-02-28", NOW), ("2022-03-01", LATER), ("event", LATER))


@pytest.fixture()
def any_scenario(parley: Parley) -> Iterator[Scenario]:
    """The reports' scenario on SQLite and on PostgreSQL."""
    engine = make_sync_engine(parley.settings())
    yield build_scenario(engine)
    engine.dispose()


def issue(s: Scenario, data_dir: Path, scope: str, now: datetime, threshold: float = 0.5) -> certificates.Issued:
    return certificates.issue(
        s.engine, data_dir, s.event_id, scope, now=now, stale_after=STALE_AFTER, threshold=threshold, base_url=BASE
    )


def stored(engine: Engine, scope: str | None = None) -> dict[tuple[str, int], Certificate]:
    with Session(engine) as session:
        query = select(Certificate)
        if scope is not None:
            query = query.where(Certificate.scope == scope)
        return {(c.scope, c.registration_id): c for c in session.execute(query).scalars()}


def compiled_attended(s: Scenario, data_dir: Path, scope: str, now: datetime) -> dict[int, float]:
    """Registration id -> minutes of every row the compiled report (its CSV file) marks as attended."""
    done = reports.compile_report(s.engine, data_dir, s.event_id, scope, now=now, stale_after=STALE_AFTER)
    with zipfile.ZipFile(done.files["csv.zip"]) as z:
        rows = list(csv.DictReader(io.StringIO(z.read("attendees.csv").decode("utf-8-sig"))))
    return {int(r["registration_id"]): float(r["minutes_present"]) for r in rows if r["attended"] == "yes"}


def test_certificates_are_exactly_the_compiled_reports_attended_rows(any_scenario: Scenario, tmp_path: Path) -> None:
    s = any_scenario
    for scope, now in SCOPES:
        issued = issue(s, tmp_path, scope, now)
        certs = {rid: c.minutes for (_, rid), c in stored(s.engine, scope).items()}
        assert certs == compiled_attended(s, tmp_path, scope, now), scope
        assert issued.count == len(certs)
    p = s.people
    assert set(stored(s.engine)) == {
        ("2022-02-28", p["Alice"]),
        ("2022-02-28", p["Chloé"]),
        ("2022-03-01", p["Alice"]),
        ("event", p["Alice"]),
    }
    alice = stored(s.engine)[("event", p["Alice"])]
    assert (alice.minutes, alice.first_day, alice.last_day, alice.language) == (340.0, DAY1, DAY2, "fr")
    assert alice.event_title == "Dialogue de test", "the title in the attendee's language"
    chloe = stored(s.engine)[("2022-02-28", p["Chloé"])]
    assert (chloe.minutes, chloe.organisation, chloe.first_day, chloe.last_day) == (95.0, "Sorbonne", DAY1, DAY1)
    with Session(s.engine) as session:
        batches = {b.scope: b.count for b in session.execute(select(CertificateBatch)).scalars()}
    assert batches == {"2022-02-28": 2, "2022-03-01": 1, "event": 1}


def test_the_threshold_is_the_reports(any_scenario: Scenario, tmp_path: Path) -> None:
    s = any_scenario
    issue(s, tmp_path, "2022-02-28", NOW, threshold=0.45)
    certs = {rid: c.minutes for (_, rid), c in stored(s.engine, "2022-02-28").items()}
    assert set(certs) == {s.people["Alice"], s.people["Chloé"], s.people["Bruno"]}
    assert certs == compiled_attended_at(s, tmp_path, 0.45)


def compiled_attended_at(s: Scenario, data_dir: Path, threshold: float) -> dict[int, float]:
    with Session(s.engine) as session:
        report = reports.build(session, s.event_id, "2022-02-28", now=NOW, stale_after=STALE_AFTER, threshold=threshold)
    keys = [c.key for c in report.table("attendees").columns]
    rows = [dict(zip(keys, r, strict=True)) for r in report.table("attendees").rows]
    return {r["registration_id"]: r["minutes_present"] for r in rows if r["attended"]}


def test_issuing_again_keeps_every_code_and_gives_the_same_bytes(sqlite_parley: Parley, tmp_path: Path) -> None:
    engine = make_sync_engine(sqlite_parley.settings())
    s = build_scenario(engine)
    first = issue(s, tmp_path, "2022-02-28", NOW)
    assert issue(s, tmp_path, "event", LATER).drawn == 1, "the morning's PDFs kept, the event's drawn"
    assert first.drawn == 2
    codes_before = {key: c.code for key, c in stored(engine).items()}
    zip_before = first.zip.read_bytes() and bundle.zip_path(tmp_path, "report-test").read_bytes()
    assert issue(s, tmp_path, "2022-02-28", NOW + timedelta(hours=5)).drawn == 0, "nothing new, nothing drawn"
    assert issue(s, tmp_path, "event", LATER + timedelta(days=1)).drawn == 0
    assert {key: c.code for key, c in stored(engine).items()} == codes_before
    assert bundle.zip_path(tmp_path, "report-test").read_bytes() == zip_before
    # corrected attendance: Bruno's missing ten minutes found; Chloé's row removed
    with Session(engine) as session, session.begin():
        session.add(
            Presence(
                event_id=s.event_id,
                registration_id=s.people["Bruno"],
                connection_id="found",
                server_id="s",
                started_at=at(DAY1, "10:40"),
                last_seen_at=at(DAY1, "10:55"),
                ended_at=at(DAY1, "10:55"),
            )
        )
        for row in session.execute(select(Presence).where(Presence.registration_id == s.people["Chloé"])).scalars():
            session.delete(row)
    assert issue(s, tmp_path, "2022-02-28", NOW).drawn == 1, "Bruno's; Alice's unchanged"
    after = stored(engine, "2022-02-28")
    assert set(after) == {("2022-02-28", s.people["Alice"]), ("2022-02-28", s.people["Bruno"])}
    assert after[("2022-02-28", s.people["Alice"])].code == codes_before[("2022-02-28", s.people["Alice"])]
    engine.dispose()


def test_no_certificate_before_the_morning_is_over(sqlite_parley: Parley, tmp_path: Path) -> None:
    engine = make_sync_engine(sqlite_parley.settings())
    s = build_scenario(engine)
    with pytest.raises(certificates.NotOver):
        issue(s, tmp_path, "2022-03-01", at(DAY2, "10:00"))
    with pytest.raises(certificates.NotOver):
        issue(s, tmp_path, "event", NOW)
    with pytest.raises(reports.UnknownScope):
        issue(s, tmp_path, "2022-03-09", LATER)
    assert stored(engine) == {}
    engine.dispose()


def test_the_scan_issues_each_scope_once_it_is_over(sqlite_parley: Parley, tmp_path: Path) -> None:
    engine = make_sync_engine(sqlite_parley.settings())
    s = build_scenario(engine, live_until=at(DAY1, "11:00"))  # panel 2 is live

    def scan(now: datetime) -> list[str]:
        done = certificates.scan_due(engine, tmp_path, now=now, stale_after=STALE_AFTER, threshold=0.5, base_url=BASE)
        return [issued.scope for issued in done]

    assert scan(at(DAY1, "11:30")) == []
    assert scan(at(DAY1, "12:05")) == [], "past the scheduled end, but the moderator has not ended it"
    with Session(engine) as session, session.begin():  # the moderator ends the last segment at 12:10
        for table in (EventLogEntry, LiveStateRow, QuestionVote):
            session.query(table).delete()
        play_morning(session, s, at(DAY1, "12:10"))
    assert scan(NOW) == ["2022-02-28"]
    assert scan(NOW + timedelta(minutes=1)) == [], "issued once"
    assert scan(at(DAY2, "12:00")) == ["2022-03-01", "event"]
    assert scan(LATER) == []
    assert len(stored(engine)) == 4
    engine.dispose()


def test_the_zip_holds_one_pdf_per_certificate_and_an_index(sqlite_parley: Parley, tmp_path: Path) -> None:
    engine = make_sync_engine(sqlite_parley.settings())
    s = build_scenario(engine)
    for scope, now in SCOPES:
        issue(s, tmp_path, scope, now)
    p = s.people
    with zipfile.ZipFile(bundle.zip_path(tmp_path, "report-test")) as z:
        names = z.namelist()
        assert names == [
            f"2022-02-28/{p['Alice']:06d}-alice-martin.pdf",
            f"2022-02-28/{p['Chloé']:06d}-chloe-dubois.pdf",
            f"2022-03-01/{p['Alice']:06d}-alice-martin.pdf",
            f"event/{p['Alice']:06d}-alice-martin.pdf",
            "index.csv",
        ]
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        index = list(csv.DictReader(io.StringIO(z.read("index.csv").decode("utf-8-sig"))))
        for (scope, rid), cert in stored(engine).items():
            entry = next(r for r in index if r["scope"] == scope and r["code"] == codes.display(cert.code))
            assert entry["verify_url"] == f"{BASE}/verify/{codes.display(cert.code)}"
            assert z.read(entry["file"]) == render(certificates.service.printed(cert), entry["verify_url"])
        assert "email" not in index[0] and all("@" not in value for r in index for value in r.values())
    engine.dispose()


# -- the page ----------------------------------------------------------------------------------------


def printed(language: str, scope: str = "2022-02-28", name: str = "Chloé Dubois") -> Printed:
    first, last = (DAY1, DAY1) if scope != "event" else (DAY1, date(2022, 3, 2))
    return Printed(
        code="7KQ2M0ABCDEFGHJKMNPQ",
        scope=scope,
        name=name,
        organisation="Sorbonne",
        language=language,
        event_title="International Dialogue on Migration 2022",
        first_day=first,
        last_day=last,
        minutes=171.5,
        threshold=0.5,
    )


def pdf_text(content: bytes) -> tuple[int, str]:
    reader = pypdf.PdfReader(io.BytesIO(content))
    return len(reader.pages), " ".join(reader.pages[0].extract_text().split())


@pytest.mark.parametrize(
    ("language", "scope", "expected"),
    [
        (
            "fr",
            "2022-02-28",
            [
                "Certificat de participation",
                "a participé à la matinée du 28 février 2022 de",
                "Présence : 171,5 minutes (au moins 50 % du temps).",
                "Code de vérification : 7KQ2M-0ABCD-EFGHJ-KMNPQ",
            ],
        ),
        (
            "en",
            "event",
            [
                "Certificate of attendance",
                "attended, from 28 February to 2 March 2022,",
                "Present for 171.5 minutes (at least 50% of the time).",
                "Verification code: 7KQ2M-0ABCD-EFGHJ-KMNPQ",
            ],
        ),
        (
            "es",
            "event",
            [
                "Certificado de asistencia",
                "asistió, del 28 de febrero al 2 de marzo de 2022, a",
                "Presencia: 171,5 minutos (al menos el 50 % del tiempo).",
                "Código de verificación: 7KQ2M-0ABCD-EFGHJ-KMNPQ",
            ],
        ),
    ],
)
def test_a_certificate_is_one_page_in_the_attendees_language(language: str, scope: str, expected: list[str]) -> None:
    url = f"{BASE}/verify/7KQ2M-0ABCD-EFGHJ-KMNPQ"
    content = render(printed(language, scope), url)
    pages, text = pdf_text(content)
    assert pages == 1
    for part in [*expected, "Chloé Dubois", "Sorbonne", "International Dialogue on Migration 2022", url]:
        assert part in text, (part, text)
    assert render(printed(language, scope), url) == content, "the same certificate, the same bytes"


def test_names_beyond_latin_1_and_very_long_ones_stay_on_one_page() -> None:
    for name in ("Дмитрий Иванов", "Nguyễn Thị Minh Khai", "A" * 200):
        pages, text = pdf_text(render(printed("en", name=name), f"{BASE}/verify/x"))
        assert pages == 1
        assert (name if len(name) < 100 else "AAAAAAAAAA") in text


def test_every_interface_language_has_its_certificate_words() -> None:
    assert set(WORDS) == set(INTERFACE_LANGUAGES)


def test_dates_are_written_as_each_language_writes_them() -> None:
    assert dates_text(DAY1, DAY2, "fr") == "28 février au 1 mars 2022"
    assert dates_text(date(2022, 3, 1), date(2022, 3, 3), "en") == "1 to 3 March 2022"
    assert dates_text(date(2022, 12, 30), date(2023, 1, 2), "es") == "30 de diciembre de 2022 al 2 de enero de 2023"


# -- codes and the throttle ---------------------------------------------------------------------------


def test_codes_carry_100_random_bits_and_forgive_how_people_type_them() -> None:
    made = {codes.new_code() for _ in range(2000)}
    assert len(made) == 2000
    assert all(len(c) == 20 and set(c) <= set(codes.ALPHABET) for c in made)
    assert codes.BITS >= 80
    code = "7KQ2M0ABCDEFGHJKMNPQ"
    assert codes.display(code) == "7KQ2M-0ABCD-EFGHJ-KMNPQ"
    for typed in ("7kq2m-0abcd-efghj-kmnpq", " 7KQ2M 0ABCD EFGHJ KMNPQ ", "7KQ2MOABCDEFGHJKMNPQ"):
        assert codes.normalise(typed) == code
    for bad in ("", "7KQ2M-0ABCD-EFGHJ-KMNP", "7KQ2M-0ABCD-EFGHJ-KMNPQU", "7KQ2M-0ABCD-EFGHJ-KMNP!", "x" * 10_000):
        assert codes.normalise(bad) is None


def test_the_throttle_counts_failures_per_address_in_a_sliding_window() -> None:
    throttle = VerifyThrottle(timedelta(minutes=15), limit=3, max_addresses=2)
    t0 = datetime(2022, 2, 28, 12, 0, tzinfo=UTC)
    for i in range(3):
        assert throttle.retry_after("a", t0) is None
        throttle.failed("a", t0 + timedelta(minutes=i))
    assert throttle.retry_after("a", t0 + timedelta(minutes=5)) == 600
    assert throttle.retry_after("b", t0 + timedelta(minutes=5)) is None, "per address"
    assert throttle.retry_after("a", t0 + timedelta(minutes=15)) is None, "the oldest failure left the window"
    throttle.failed("b", t0)
    throttle.failed("c", t0)
    assert throttle.retry_after("a", t0 + timedelta(minutes=5)) is None, "bounded memory: the oldest address forgotten"
