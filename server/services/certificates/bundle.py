"""The organisers' zip of every certificate of an event: ``DATA_DIR/certificates/<slug>/certificates.zip``.

One PDF per certificate, under a folder per scope (``2022-02-28/000042-alice-martin.pdf``,
``event/...``), and ``index.csv`` listing them (scope, name, organisation, language, minutes, code,
file). The zip is a function of the certificate rows: each PDF entry's comment is a fingerprint of
everything drawn on it (the printed fields, the verify URL, ``LAYOUT``), and rebuilding keeps every
PDF of the old zip whose fingerprint is unchanged, drawing only new or changed certificates; so
issuing one morning does not redraw the others, and issuing again with nothing new draws nothing.
Entries are sorted and dated 1980-01-01: the same rows give the same bytes. PDFs are stored (they
are compressed already); the index is deflated. The file is streamed to a temporary file beside it,
fsynced and renamed over the old one (as the reports' files): a download reads the old zip or the
new one, never half of one.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import io
import os
import re
import tempfile
import time
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from server.services.certificates.codes import display
from server.services.certificates.model import Printed
from server.services.certificates.pdf import render
from server.services.reports.store import SLUG_RE, STALE_TEMP_S

ZIP_NAME = "certificates.zip"
INDEX = "index.csv"
EPOCH = (1980, 1, 1, 0, 0, 0)
LAYOUT = "1"
"""Change it with ``pdf.py``'s drawing: every fingerprint changes, so every PDF is drawn again."""


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


def _info(name: str, compress: int, comment: bytes = b"") -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=EPOCH)
    info.compress_type = compress
    info.external_attr = 0o644 << 16
    info.comment = comment
    return info


def fingerprint(printed: Printed, url: str) -> bytes:
    drawn = (LAYOUT, url, *(str(getattr(printed, f.name)) for f in dataclasses.fields(printed)))
    return hashlib.sha256("\x1f".join(drawn).encode()).hexdigest()[:32].encode()


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


@contextlib.contextmanager
def _replacing(path: Path) -> Iterator[IO[bytes]]:
    """A file that replaces ``path`` atomically once written whole (as ``reports.store.write_atomic``,
    streamed: tens of thousands of PDFs need not sit in memory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):  # a writer killed before its rename
        with contextlib.suppress(FileNotFoundError):
            if time.time() - stale.stat().st_mtime > STALE_TEMP_S:
                stale.unlink()
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o640)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    with contextlib.suppress(OSError):  # the rename made durable, where a folder can be opened
        folder_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder_fd)
        finally:
            os.close(folder_fd)


@dataclass
class Rebuilt:
    path: Path
    drawn: int
    """PDFs drawn anew; the others were kept from the old zip."""


def rebuild(data_dir: Path, slug: str, rows: list[Row], verify_url: Callable[[str], str]) -> Rebuilt:
    """Write the zip for ``rows`` (every certificate of the event)."""
    path = zip_path(data_dir, slug)
    ordered = sorted(rows, key=lambda row: row.entry)
    old: zipfile.ZipFile | None = None
    try:
        old = zipfile.ZipFile(path)
        kept = {info.filename: info.comment for info in old.infolist()}
    except (FileNotFoundError, zipfile.BadZipFile):
        kept = {}
    drawn = 0
    try:
        with _replacing(path) as handle, zipfile.ZipFile(handle, "w") as out:
            for row in ordered:
                url = verify_url(row.printed.code)
                mark = fingerprint(row.printed, url)
                if old is not None and kept.get(row.entry) == mark:
                    content = old.read(row.entry)
                else:
                    content = render(row.printed, url)
                    drawn += 1
                out.writestr(_info(row.entry, zipfile.ZIP_STORED, mark), content)
            out.writestr(_info(INDEX, zipfile.ZIP_DEFLATED), index_csv(ordered, verify_url))
    finally:
        if old is not None:
            old.close()
    return Rebuilt(path, drawn)
