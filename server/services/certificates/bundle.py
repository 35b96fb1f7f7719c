"""The organisers' zip of every certificate of an event: ``DATA_DIR/certificates/<slug>/certificates.zip``.

One PDF per certificate, under a folder per scope (``2022-02-28/000042-alice-martin.pdf``,
``event/...``), and ``index.csv`` listing them (scope, name, organisation, language, minutes, code,
file). The zip is a function of the certificate rows: rebuilding it keeps the PDFs of the old zip
that are still right (same entry name, scope not re-issued) and renders only the others, so issuing
one morning does not redraw the others. Entries are sorted and dated 1980-01-01: the same rows give
the same bytes. PDFs are stored (they are compressed already); the index is deflated. The file is
written atomically (``reports.store.write_atomic``).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from server.services.certificates.codes import display
from server.services.certificates.model import Printed
from server.services.certificates.pdf import render
from server.services.reports.store import SLUG_RE, write_atomic

ZIP_NAME = "certificates.zip"
INDEX = "index.csv"
EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Row:
    registration_id: int
    printed: Printed

    @property
    def entry(self) -> str:
        return f"{self.printed.scope}/{self.registration_id:06d}-{ascii_slug(self.printed.name)}.pdf"


def folder(data_dir: Path, slug: str) -> Path:
    if not SLUG_RE.fullmatch(slug):
        raise ValueError(f"not an event slug: {slug!r}")
    return data_dir / "certificates" / slug


def zip_path(data_dir: Path, slug: str) -> Path:
    return folder(data_dir, slug) / ZIP_NAME


def ascii_slug(text: str, limit: int = 40) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", folded).strip("-")[:limit].strip("-") or "attendee"


def _info(name: str, compress: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=EPOCH)
    info.compress_type = compress
    info.external_attr = 0o644 << 16
    return info


def index_csv(rows: Iterable[Row], verify_url: Callable[[str], str]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["scope", "name", "organisation", "language", "minutes", "code", "verify_url", "file"])
    for row in rows:
        p = row.printed
        writer.writerow(
            [
                p.scope,
                _cell(p.name),
                _cell(p.organisation),
                p.language,
                p.minutes,
                display(p.code),
                verify_url(p.code),
                row.entry,
            ]
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _cell(text: str) -> str:
    """A spreadsheet must not run a name as a formula (as in the reports' CSV)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def rebuild(
    data_dir: Path, slug: str, rows: list[Row], verify_url: Callable[[str], str], *, redraw: str | None = None
) -> Path:
    """Write the zip for ``rows`` (every certificate of the event); PDFs of scope ``redraw`` are
    rendered again even when the old zip has an entry of the same name."""
    path = zip_path(data_dir, slug)
    ordered = sorted(rows, key=lambda row: row.entry)
    old: zipfile.ZipFile | None = None
    try:
        old = zipfile.ZipFile(path)
        kept = set(old.namelist())
    except (FileNotFoundError, zipfile.BadZipFile):
        kept = set()
    buffer = io.BytesIO()
    try:
        with zipfile.ZipFile(buffer, "w") as out:
            for row in ordered:
                if old is not None and row.entry in kept and row.printed.scope != redraw:
                    content = old.read(row.entry)
                else:
                    content = render(row.printed, verify_url(row.printed.code))
                out.writestr(_info(row.entry, zipfile.ZIP_STORED), content)
            out.writestr(_info(INDEX, zipfile.ZIP_DEFLATED), index_csv(ordered, verify_url))
    finally:
        if old is not None:
            old.close()
    write_atomic(path, buffer.getvalue())
    return path
