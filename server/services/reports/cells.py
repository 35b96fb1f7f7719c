"""Cell values as the writers show them, formula neutralisation, and zips with fixed dates.

A spreadsheet reads a cell starting with ``=``, ``+``, ``-`` or ``@`` as a formula, and one starting
with a tab or carriage return as one too once the whitespace is trimmed; attendee names,
organisations and questions are typed by anyone, so every text cell that starts with one of them
gets a leading apostrophe (OWASP's CSV injection advice). Numbers are written as numbers and are
never neutralised.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from server.services.reports.model import ColumnKind

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def neutralise(text: str) -> str:
    """``text`` as a spreadsheet will show it, never evaluated."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def clean(text: str) -> str:
    """Without the control characters XML (so XLSX) cannot hold; tab, LF and CR stay."""
    return _CONTROL.sub("", text)


def local_text(instant: datetime, zone: ZoneInfo) -> str:
    return instant.astimezone(zone).isoformat(timespec="seconds")


def utc_text(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def text_of(value: Any, kind: ColumnKind, zone: ZoneInfo) -> str:
    """The CSV text of a value: numbers as numbers, instants in ISO 8601, texts neutralised."""
    if value is None:
        return ""
    if kind == "local" and isinstance(value, datetime):
        return local_text(value, zone)
    if kind == "utc" and isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, date):
        return value.isoformat()
    return neutralise(clean(str(value)))


def summary_text(value: Any, zone: ZoneInfo) -> str:
    if isinstance(value, datetime):
        return local_text(value, zone)
    return text_of(value, "text", zone)


def deterministic_zip(entries: list[tuple[str, bytes]]) -> bytes:
    """A zip of ``entries`` in the given order with fixed dates and attributes: same input, same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            archive.writestr(info, content, compresslevel=6)
    return buffer.getvalue()


def normalise_zip(data: bytes, rewrite: dict[str, Any] | None = None) -> bytes:
    """The same zip with fixed dates (and some entries' text rewritten by ``rewrite[name](text)``)."""
    entries = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            content = archive.read(info.filename)
            if rewrite and info.filename in rewrite:
                content = rewrite[info.filename](content.decode("utf-8")).encode("utf-8")
            entries.append((info.filename, content))
    return deterministic_zip(entries)
