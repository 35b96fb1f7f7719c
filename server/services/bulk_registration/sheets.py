"""A delegation list as rows of text: CSV (UTF-8 with or without BOM, UTF-16 with BOM, Windows-1252;
comma, semicolon or tab) or XLSX (the first sheet, read-only, formulas never evaluated).

Everything here distrusts the file: its size is checked by the caller before reading, the rows are
counted while reading, an XLSX's parts are checked against the uncompressed sizes they declare
before openpyxl opens it (a zip bomb declares little and is refused by ``zipfile`` when it inflates
past what it declared), and every way a file can be unreadable ends in a ``SheetError``.

Rows keep the line number a person sees in a spreadsheet (the header is line 1); columns are
letters (A, B, ...). Which column holds what comes from ``server.services.bulk_registration.columns``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from server.services.bulk_registration.columns import Column, map_columns
from server.services.bulk_registration.errors import SheetError

XLSX_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the old binary .xls (and .doc)
DELIMITERS = (",", ";", "\t")
MAX_COLUMNS = 64  # more than any delegation list needs; cells past it are not read
XLSX_MAX_PARTS = 1000
XLSX_INFLATION = 20  # an XLSX may inflate to 20 times the upload limit, not more
BLANK_LINES_ALLOWED = 1000  # blank lines between rows do not count as rows, but are not free either

Format = Literal["csv", "xlsx"]


@dataclass(frozen=True)
class SheetRow:
    """One non-blank line: its number as the spreadsheet shows it, and its cells per field."""

    line: int
    cells: dict[str, str]
    formulas: frozenset[str] = frozenset()  # fields whose cell is a formula (XLSX): never evaluated


@dataclass
class Sheet:
    format: Format
    columns: list[Column]
    header: bool
    rows: list[SheetRow] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # header cells no field matches, e.g. "C (Notes)"
    encoding: str | None = None  # CSV
    delimiter: str | None = None  # CSV
    sheet_name: str | None = None  # XLSX


def read_sheet(data: bytes, *, max_rows: int, max_bytes: int) -> Sheet:
    """The rows of a CSV or XLSX file (chosen by its first bytes, never by its name)."""
    if not data.strip():
        raise SheetError("empty_file", "the file is empty")
    if data.startswith(OLE2_MAGIC):
        raise SheetError("unsupported_file", "an old Excel file (.xls): save it as .xlsx or as CSV UTF-8")
    if data.startswith(XLSX_MAGIC):
        return _read_xlsx(data, max_rows=max_rows, max_bytes=max_bytes)
    return _read_csv(data, max_rows=max_rows)


# -- CSV ---------------------------------------------------------------------------------------------


def decode(data: bytes) -> tuple[str, str]:
    """The text and the encoding it was read with: a BOM decides, else UTF-8, else Windows-1252 (what
    Excel writes as "CSV" in French and Spanish Windows)."""
    if data.startswith(b"\xef\xbb\xbf"):
        candidates = ["utf-8-sig"]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = ["utf-16"]
    else:
        candidates = ["utf-8", "cp1252"]
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            break
        return text, encoding
    raise SheetError("unreadable_file", "not a text file in a known encoding: save it as CSV UTF-8 or as .xlsx")


def sniff_delimiter(text: str) -> str:
    """The delimiter of the first non-blank line: the most frequent of comma, semicolon and tab outside
    quotes; comma when none is there (a one-column file)."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in first:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _read_csv(data: bytes, *, max_rows: int) -> Sheet:
    text, encoding = decode(data)
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)

    def lines() -> Iterator[tuple[int, list[str]]]:
        start = 1
        try:
            for record in reader:
                yield start, record[:MAX_COLUMNS]
                start = reader.line_num + 1  # a quoted cell may span lines: the row starts where it began
        except csv.Error as exc:
            raise SheetError("unreadable_file", f"line {start}: {exc}") from None

    sheet = _sheet("csv", lines(), max_rows=max_rows)
    sheet.encoding = encoding
    sheet.delimiter = delimiter
    return sheet


# -- XLSX --------------------------------------------------------------------------------------------


def _check_parts(data: bytes, *, max_bytes: int) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
            names = {part.filename for part in parts}
            if "mimetype" in names and b"opendocument" in archive.read("mimetype")[:100]:
                raise SheetError("unsupported_file", "an OpenDocument spreadsheet: save it as .xlsx or as CSV UTF-8")
    except zipfile.BadZipFile:
        raise SheetError("unreadable_file", "not a readable XLSX file") from None
    if "xl/workbook.xml" not in names:
        raise SheetError("unsupported_file", "a zip file that is not an XLSX workbook")
    if len(parts) > XLSX_MAX_PARTS:
        raise SheetError("unreadable_file", f"an XLSX file of more than {XLSX_MAX_PARTS} parts")
    inflated = sum(part.file_size for part in parts)
    if inflated > max_bytes * XLSX_INFLATION:
        raise SheetError("unreadable_file", f"an XLSX file that inflates to {inflated} bytes")


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date().isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _read_xlsx(data: bytes, *, max_rows: int, max_bytes: int) -> Sheet:
    # openpyxl is heavy and only organisers importing a workbook need it
    from openpyxl import load_workbook  # noqa: PLC0415

    _check_parts(data, max_bytes=max_bytes)
    formulas: dict[int, set[int]] = {}

    def lines() -> Iterator[tuple[int, list[str]]]:
        # data_only=False: a formula cell reads as its formula, never as the value Excel cached for it
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False, keep_links=False)
        try:
            if not book.worksheets:
                return
            sheet = book.worksheets[0]
            sheets.append(sheet.title)
            rows = sheet.iter_rows(max_col=MAX_COLUMNS)
            for line, row in enumerate(rows, start=1):
                cells = []
                for index, cell in enumerate(row):
                    if getattr(cell, "data_type", None) == "f":
                        formulas.setdefault(line, set()).add(index)
                    cells.append(_cell_text(cell.value).strip())
                yield line, cells
        finally:
            book.close()

    sheets: list[str] = []
    try:
        sheet = _sheet("xlsx", lines(), max_rows=max_rows, formulas=formulas)
    except SheetError:
        raise
    except Exception:  # noqa: BLE001 - openpyxl raises what the broken part makes it raise; all mean unreadable
        raise SheetError("unreadable_file", "not a readable XLSX file") from None
    sheet.sheet_name = sheets[0] if sheets else None
    return sheet


# -- both --------------------------------------------------------------------------------------------


def _sheet(
    fmt: Format, lines: Iterable[tuple[int, list[str]]], *, max_rows: int, formulas: dict[int, set[int]] | None = None
) -> Sheet:
    """Header (or not), then the non-blank rows, at most ``max_rows`` of them."""
    formulas = formulas if formulas is not None else {}
    sheet: Sheet | None = None
    seen_lines = 0
    for line, raw in lines:
        seen_lines += 1
        if seen_lines > max_rows + 1 + BLANK_LINES_ALLOWED:
            raise SheetError("too_many_rows", f"more than {max_rows} rows (line {line})")
        values = [value.strip() for value in raw]
        if not any(values):
            continue
        if sheet is None:
            columns, header, ignored = map_columns(values)
            sheet = Sheet(format=fmt, columns=columns, header=header, ignored=ignored)
            if header:
                continue
        if len(sheet.rows) >= max_rows:
            raise SheetError("too_many_rows", f"more than {max_rows} rows (line {line})")
        cells = {c.field: values[c.index] for c in sheet.columns if c.index < len(values) and values[c.index]}
        in_formula = {c.field for c in sheet.columns if c.index in formulas.get(line, ())}
        sheet.rows.append(SheetRow(line=line, cells=cells, formulas=frozenset(in_formula)))
    if sheet is None or not sheet.rows:
        raise SheetError("empty_file", "the file holds no rows" + (" under its header" if sheet else ""))
    return sheet
