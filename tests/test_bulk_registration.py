"""Bulk registration: delegation lists read from CSV and XLSX, every row checked by the rules of a single
registration, the preview's problems with line and column, and the commit's all or nothing, on SQLite
and PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select, text

from server.adapters.db.engine import make_async_engine, make_sessionmaker
from server.adapters.db.models import Event, Registration, ReminderDelivery
from server.programme.parser import load_programme
from server.services import bulk_registration as bulk
from server.services.auth import JoinLinks
from server.services.bulk_registration.columns import column_letter
from server.services.bulk_registration.sheets import read_sheet
from server.services.programmes import upsert_programme
from server.services.registrations import RegistrationIn, register
from tests.fixtures.parley import ROOT, Parley

pytestmark = pytest.mark.anyio

SLUG = "idm-2022-1"
NOW = datetime(2022, 2, 20, 12, 0, tzinfo=UTC)
LIMITS = bulk.ImportLimits(max_bytes=2 * 1024 * 1024, max_rows=100)
LINKS = JoinLinks("test-secret-key-not-for-production")

EN_CSV = (
    "name,email,organisation,category,country,language,timezone,listed\r\n"
    "Ana Pérez,ana@example.org,Ministry,member_state,Spain,es,Europe/Madrid,yes\r\n"
    'Ben Okafor,ben@example.org,"IOM, Geneva",un_system,Nigeria,en,,no\r\n'
)


def xlsx(rows: list[list[Any]], *, formulas: dict[str, str] | None = None) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Delegaciones"
    for row in rows:
        sheet.append(row)
    for ref, formula in (formulas or {}).items():
        sheet[ref] = formula
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def rows_of(data: bytes, registered: set[str] | None = None, max_rows: int = 100) -> list[bulk.CheckedRow]:
    from server.services.bulk_registration.rows import check_rows

    return check_rows(read_sheet(data, max_rows=max_rows, max_bytes=LIMITS.max_bytes), registered or set())


def problems(row: bulk.CheckedRow) -> list[tuple[str | None, str]]:
    return [(p.column, p.code) for p in row.problems]


# -- reading files --------------------------------------------------------------------------------------


def test_an_english_csv_with_commas_reads_every_field() -> None:
    sheet = read_sheet(EN_CSV.encode(), max_rows=10, max_bytes=10**6)
    assert (sheet.format, sheet.encoding, sheet.delimiter, sheet.header) == ("csv", "utf-8", ",", True)
    ana, ben = rows_of(EN_CSV.encode())
    assert ana.valid and ben.valid
    assert ana.line == 2 and ben.line == 3
    assert ana.registration == RegistrationIn(
        name="Ana Pérez",
        email="ana@example.org",
        organisation="Ministry",
        category="member_state",
        country="Spain",
        language="es",
        timezone="Europe/Madrid",
        listed=True,
    )
    assert ben.registration is not None and ben.registration.organisation == "IOM, Geneva"
    assert ben.registration.listed is False and ben.registration.timezone is None


def test_a_french_excel_csv_with_bom_and_semicolons() -> None:
    text = (
        "Nom;Courriel;Organisme;Catégorie;Pays;Langue;Fuseau horaire;Consentement\r\n"
        "Chloé Martin;Chloe.Martin@Example.org;Mission permanente;État membre;France;Français;Europe/Paris;oui\r\n"
        "Diego Ruiz;diego@example.org;ONG Amigos;Société civile;Chili;espagnol;;non\r\n"
    )
    for data, encoding in ((b"\xef\xbb\xbf" + text.encode(), "utf-8-sig"), (text.encode("cp1252"), "cp1252")):
        sheet = read_sheet(data, max_rows=10, max_bytes=10**6)
        assert (sheet.encoding, sheet.delimiter, sheet.header) == (encoding, ";", True)
        chloe, diego = rows_of(data)
        assert chloe.valid and diego.valid, (chloe.problems, diego.problems)
        assert chloe.registration is not None and diego.registration is not None
        assert chloe.registration.name == "Chloé Martin"  # the BOM is not part of the first header
        assert chloe.registration.email == "chloe.martin@example.org"
        assert (chloe.registration.category, chloe.registration.language) == ("member_state", "fr")
        assert chloe.registration.listed is True
        assert (diego.registration.category, diego.registration.language) == ("civil_society", "es")


def test_a_spanish_header_in_another_order_with_an_unknown_column() -> None:
    text = "Correo electrónico\tNombre\tNotas\tCategoría\tIdioma\r\nlia@example.org\tLía Gómez\tVIP\tMedios\tinglés\r\n"
    sheet = read_sheet(text.encode(), max_rows=10, max_bytes=10**6)
    assert sheet.delimiter == "\t"
    assert [(c.field, c.letter) for c in sheet.columns] == [
        ("email", "A"),
        ("name", "B"),
        ("category", "D"),
        ("language", "E"),
    ]
    assert sheet.ignored == ["C (Notas)"]
    (lia,) = rows_of(text.encode())
    assert lia.registration is not None and (lia.registration.category, lia.registration.language) == ("media", "en")


def test_without_a_header_the_columns_are_taken_in_the_documented_order() -> None:
    data = b"Ana Perez;ana@example.org;Ministry;academia;Spain;es;UTC;x\nBen;ben@example.org\n"
    sheet = read_sheet(data, max_rows=10, max_bytes=10**6)
    assert not sheet.header
    ana, ben = rows_of(data)
    assert ana.line == 1 and ana.valid and ana.registration is not None and ana.registration.listed is True
    assert ben.line == 2 and problems(ben) == [("D", "missing_category")]


def test_an_xlsx_made_with_openpyxl_keeps_the_spreadsheet_line_numbers() -> None:
    data = xlsx(
        [
            ["Nombre", "Correo", "Organización", "Categoría", "País", "Idioma", "Zona horaria", "Listado"],
            ["Eva Lind", "eva@example.org", "Sida", "Estado miembro", "Suecia", "en", "Europe/Stockholm", True],
            [],
            [None, None],
            ["Femi Ade", "femi@example.org", 1234, "academia", "Nigeria", "fr", None, 0],
            ["Gil Sá", "gil@example.org", "", "media", "", "es", "", ""],
        ],
        formulas={"A6": '=CONCAT("Gil", " Sá")'},
    )
    sheet = read_sheet(data, max_rows=10, max_bytes=10**6)
    assert (sheet.format, sheet.sheet_name, sheet.header) == ("xlsx", "Delegaciones", True)
    eva, femi, gil = rows_of(data)
    assert (eva.line, femi.line, gil.line) == (2, 5, 6)  # blank lines keep their numbers
    assert eva.valid and eva.registration is not None and eva.registration.listed is True
    assert femi.valid and femi.registration is not None
    assert (femi.registration.organisation, femi.registration.listed) == ("1234", False)
    # a formula is never evaluated: its row says so, and nothing else about that cell
    assert problems(gil) == [("A", "formula")]


async def test_every_problem_is_named_with_its_line_and_column() -> None:
    text = (
        "name;email;organisation;category;country;language;timezone;listed\n"
        "Ok Person;ok@example.org;;academia;;;;\n"  # 2: valid
        "No Mail;;;academia;;;;\n"  # 3
        "Bad Mail;not-an-email;;academia;;;;\n"  # 4
        ";noname@example.org;;academia;;;;\n"  # 5
        "No Category;nocat@example.org;;;;;;\n"  # 6
        "Odd Category;odd@example.org;;diplomats;;;;\n"  # 7
        "Odd Language;lang@example.org;;academia;;klingon;;\n"  # 8
        "Odd Zone;zone@example.org;;academia;;;Mars/Olympus;\n"  # 9
        "Odd Consent;consent@example.org;;academia;;;;maybe\n"  # 10
        "Twice;OK@example.org;;academia;;;;\n"  # 11: same as line 2
        "Known;known@example.org;;academia;;;;\n"  # 12: registered already
        f"{'L' * 201};long@example.org;;academia;;;;\n"  # 13
    )
    checked = rows_of(text.encode(), registered={"Known@Example.org"})
    assert [row.line for row in checked] == list(range(2, 14))
    found = {row.line: problems(row) for row in checked}
    assert found == {
        2: [],
        3: [("B", "missing_email")],
        4: [("B", "invalid_email")],
        5: [("A", "missing_name")],
        6: [("D", "missing_category")],
        7: [("D", "unknown_category")],
        8: [("F", "unknown_language")],
        9: [("G", "unknown_timezone")],
        10: [("H", "invalid_listed")],
        11: [("B", "duplicate_in_file")],
        12: [("B", "already_registered")],
        13: [("A", "too_long")],
    }
    assert checked[9].problems[0].other_line == 2
    assert [row.valid for row in checked].count(True) == 1


def test_a_quoted_cell_over_two_lines_keeps_the_next_rows_line_numbers() -> None:
    data = b'name,email,category\n"Ana\nPerez",ana@example.org,academia\nBen,,academia\n'
    ana, ben = rows_of(data)
    assert ana.line == 2 and problems(ana) == [("A", "invalid")]  # a name is one line
    assert ben.line == 4 and problems(ben) == [("B", "missing_email")]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty_file"),
        (b"  \r\n \r\n", "empty_file"),
        (b"name,email,category\n", "empty_file"),  # a header alone is an empty list too
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500), "unsupported_file"),
        (b"\x00\x01\x02\x81\x8d\x8f", "unreadable_file"),
        (b"PK\x03\x04 not really a zip", "unreadable_file"),
        (b"name,organisation\nAna,UN\n", "missing_columns"),
        (b"name;email;e-mail;category\n", "duplicate_column"),
        (b'name,email,category\n"Ana,' + b"x" * 200_000 + b'",a@b.org,media\n', "unreadable_file"),
    ],
)
def test_a_file_that_is_not_a_delegation_list_is_one_error(data: bytes, code: str) -> None:
    with pytest.raises(bulk.SheetError) as refused:
        read_sheet(data, max_rows=10, max_bytes=10**6)
    assert refused.value.code == code, refused.value.message


def zipped(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in parts.items():
            archive.writestr(name, body)
    return out.getvalue()


def test_other_zip_files_and_zip_bombs_are_refused_before_openpyxl_reads_them() -> None:
    ods = zipped({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<x/>"})
    assert_refused(ods, "unsupported_file")
    assert_refused(zipped({"word/document.xml": b"<w/>"}), "unsupported_file")
    # 40 MB of zeros compress to about 40 KB: past 20 times the upload limit once inflated
    bomb = zipped({"xl/workbook.xml": b"<workbook/>", "xl/worksheets/sheet1.xml": bytes(40 * 1024 * 1024)})
    assert len(bomb) < 100_000
    assert_refused(bomb, "unreadable_file", max_bytes=1024 * 1024)
    # a part that lies about its size (declares 10 bytes, inflates to 10 MB) stops at what it declared
    liar = bytearray(zipped({"xl/workbook.xml": b"<workbook/>", "xl/worksheets/sheet1.xml": bytes(10 * 1024 * 1024)}))
    declared = 10 * 1024 * 1024
    for header in (b"PK\x03\x04", b"PK\x01\x02"):  # the local header and the central directory entry
        start = liar.rfind(header)
        offset = start + (22 if header == b"PK\x03\x04" else 24)
        assert int.from_bytes(liar[offset : offset + 4], "little") == declared
        liar[offset : offset + 4] = (10).to_bytes(4, "little")
    assert_refused(bytes(liar), "unreadable_file", max_bytes=1024 * 1024)


def assert_refused(data: bytes, code: str, max_bytes: int = 10**6) -> None:
    with pytest.raises(bulk.SheetError) as refused:
        read_sheet(data, max_rows=10, max_bytes=max_bytes)
    assert refused.value.code == code, refused.value.message


def test_rows_past_the_limit_are_refused_in_csv_and_in_xlsx() -> None:
    header = "name,email,category\n"
    ten = header + "".join(f"P{i},p{i}@example.org,media\n" for i in range(10))
    assert len(rows_of(ten.encode(), max_rows=10)) == 10
    assert_refused((ten + "P10,p10@example.org,media\n").encode(), "too_many_rows")
    data = xlsx([["name", "email", "category"], *[[f"P{i}", f"p{i}@example.org", "media"] for i in range(11)]])
    assert_refused(data, "too_many_rows")
    # a row placed at line 1,000,000 would make openpyxl walk the empty lines before it: refused early
    far = xlsx([["name", "email", "category"], ["A", "a@example.org", "media"]], formulas={"A1000000": "far"})
    assert_refused(far, "too_many_rows")


def test_column_letters_are_the_spreadsheets() -> None:
    assert [column_letter(i) for i in (0, 1, 25, 26, 27, 51, 52, 701, 702)] == [
        "A",
        "B",
        "Z",
        "AA",
        "AB",
        "AZ",
        "BA",
        "ZZ",
        "AAA",
    ]


# -- preview and commit against a database ----------------------------------------------------------------


@pytest.fixture()
async def sessions(parley: Parley) -> AsyncIterator[Any]:
    engine = make_async_engine(parley.settings())
    maker = make_sessionmaker(engine)
    async with maker() as session, session.begin():
        await upsert_programme(session, load_programme(ROOT / "config/programmes/idm-2022-1.yaml"))
    try:
        yield maker
    finally:
        await engine.dispose()


async def event_id(session: Any) -> int:
    return int((await session.execute(select(Event.id).where(Event.slug == SLUG))).scalar_one())


async def registered(sessions: Any) -> list[str]:
    async with sessions() as session:
        return list((await session.execute(select(Registration.email).order_by(Registration.id))).scalars())


async def confirmations(sessions: Any) -> list[str]:
    """The confirmation mails queued, by address (the workers send each delivery row once)."""
    async with sessions() as session:
        rows = await session.execute(
            select(ReminderDelivery.email).where(ReminderDelivery.kind == "confirmation").order_by(ReminderDelivery.id)
        )
        return list(rows.scalars())


async def register_one(sessions: Any, email: str) -> None:
    async with sessions() as session, session.begin():
        await register(session, SLUG, RegistrationIn(name="Early", email=email, category="media"), LINKS, now=NOW)


MIXED = (
    b"name,email,category\n"
    b"Ana,ana@example.org,academia\n"
    b"Ben,ben@example.org,nobody\n"
    b"Cleo,cleo@example.org,media\n"
    b"Dan,dan@example.org,media\n"
)


async def test_the_preview_sees_the_events_registrations_and_saves_nothing(sessions: Any) -> None:
    await register_one(sessions, "Dan@example.org")
    async with sessions() as session:
        checked = await bulk.check_file(session, await event_id(session), MIXED, LIMITS)
    assert [(row.line, problems(row)) for row in checked.rows] == [
        (2, []),
        (3, [("C", "unknown_category")]),
        (4, []),
        (5, [("B", "already_registered")]),
    ]
    assert (len(checked.valid), len(checked.invalid)) == (2, 2)
    assert await registered(sessions) == ["dan@example.org"]


async def test_the_commit_registers_the_valid_rows_through_register_and_skips_the_others(sessions: Any) -> None:
    await register_one(sessions, "dan@example.org")
    async with sessions() as session, session.begin():
        committed = await bulk.commit(
            session, SLUG, await event_id(session), MIXED, LINKS, now=NOW, limits=LIMITS, expected_sha256=None
        )
    assert [(row.line, r.email) for row, r in committed.created] == [(2, "ana@example.org"), (4, "cleo@example.org")]
    assert [row.line for row in committed.checked.invalid] == [3, 5]
    async with sessions() as session:
        saved = (await session.execute(select(Registration).order_by(Registration.id))).scalars().all()
        assert [r.email for r in saved] == ["dan@example.org", "ana@example.org", "cleo@example.org"]
        # made as one registration alone is: the clock's time, a join nonce of its own
        assert all(r.created_at.replace(tzinfo=UTC) == NOW and r.join_nonce for r in saved)
        assert len({r.join_nonce for r in saved}) == 3
    # each saved row has its join link mailed once: one confirmation queued per registration
    assert await confirmations(sessions) == ["dan@example.org", "ana@example.org", "cleo@example.org"]
    # the same file again: every row is now registered or invalid, nothing more is saved
    async with sessions() as session, session.begin():
        again = await bulk.commit(session, SLUG, await event_id(session), MIXED, LINKS, now=NOW, limits=LIMITS)
    assert again.created == []
    assert {p.code for row in again.checked.invalid for p in row.problems} == {"already_registered", "unknown_category"}
    assert len(await confirmations(sessions)) == 3, "nobody is mailed twice"


async def test_a_commit_of_another_file_than_the_previewed_one_saves_nothing(sessions: Any) -> None:
    async with sessions() as session:
        previewed = await bulk.check_file(session, await event_id(session), MIXED, LIMITS)
    edited = MIXED.replace(b"nobody", b"media")
    with pytest.raises(bulk.FileChanged):
        async with sessions() as session, session.begin():
            await bulk.commit(
                session, SLUG, await event_id(session), edited, LINKS, now=NOW, limits=LIMITS,
                expected_sha256=previewed.sha256,
            )  # fmt: skip
    assert await registered(sessions) == []
    assert await confirmations(sessions) == []


async def waiting_on_a_lock(sessions: Any, task: asyncio.Task[None]) -> None:
    """Until a query of this database waits on a lock (PostgreSQL's view of its sessions)."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(600):
        assert not task.done(), task
        async with sessions() as session:
            if (await session.execute(query)).scalar_one():
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the second commit never waited on the first one's row")


@pytest.mark.parametrize("parley", ["postgres"], indirect=True)
async def test_a_row_registered_meanwhile_makes_the_whole_commit_save_nothing(sessions: Any) -> None:
    """Two organisers commit overlapping lists at once: the second's check cannot see the first's
    uncommitted rows, its insert waits on the unique index, and when the first commits, the second
    saves nothing at all (PostgreSQL: SQLite has one writer at a time and never gets this far)."""
    first_file = b"name,email,category\nCleo,cleo@example.org,media\n"
    async with sessions() as first:
        await first.begin()
        await bulk.commit(first, SLUG, await event_id(first), first_file, LINKS, now=NOW, limits=LIMITS)

        async def second() -> None:
            async with sessions() as session, session.begin():
                await bulk.commit(session, SLUG, await event_id(session), MIXED, LINKS, now=NOW, limits=LIMITS)

        racing = asyncio.create_task(second())
        await waiting_on_a_lock(sessions, racing)  # the second has checked, and its insert of cleo waits
        await first.commit()
        with pytest.raises(bulk.ImportConflict) as conflict:
            await racing
    assert conflict.value.line == 4 and conflict.value.email == "cleo@example.org"
    assert await registered(sessions) == ["cleo@example.org"], "ana (line 2), saved before the conflict, is not kept"
    async with sessions() as session:
        assert (await session.execute(select(func.count()).select_from(Registration))).scalar_one() == 1
