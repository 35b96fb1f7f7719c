"""Report files under ``DATA_DIR/reports/<event slug>/``: ``<scope>.<format>`` and a manifest.

Every file is written atomically: a temporary file in the same folder, flushed and fsynced, then
``os.replace`` over the old one (and the folder fsynced), so a reader sees the old file or the new
one, never half of one. Two workers compiling the same report at once each replace the file with
a whole one. ``<scope>.json`` (the manifest) is written last: it says whether the report was
complete (its mornings over) when compiled, which is how the beat knows it is done.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from server.services.reports.model import FORMATS

SCOPE_RE = re.compile(r"^(event|\d{4}-\d{2}-\d{2})$")
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


@dataclass(frozen=True)
class StoredReport:
    scope: str
    format: str
    path: Path
    bytes: int
    compiled_at: datetime
    complete: bool


def folder(data_dir: Path, slug: str) -> Path:
    if not SLUG_RE.fullmatch(slug):
        raise ValueError(f"not an event slug: {slug!r}")
    return data_dir / "reports" / slug


def report_path(data_dir: Path, slug: str, scope: str, fmt: str) -> Path:
    """The file of one report; ``ValueError`` for a scope or format that cannot be one (no path
    outside the folder can ever come out of this)."""
    if not SCOPE_RE.fullmatch(scope) or fmt not in FORMATS:
        raise ValueError(f"no report {scope}.{fmt}")
    return folder(data_dir, slug) / f"{scope}.{fmt}"


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a directory
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


STALE_TEMP_S = 3600.0
"""A temporary file this old belongs to a writer that died (a compile takes seconds): removed."""


def _remove_stale_temporaries(path: Path) -> None:
    """A worker killed between ``mkstemp`` and ``os.replace`` leaves its temporary file behind;
    the next write of the same file removes it. Younger ones may be another writer's, still going."""
    now = time.time()
    for temp in path.parent.glob(f".{path.name}.*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            if now - temp.stat().st_mtime > STALE_TEMP_S:
                temp.unlink()


def write_atomic(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temp, 0o640)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    _fsync_dir(path.parent)


def write_manifest(data_dir: Path, slug: str, scope: str, manifest: dict[str, Any]) -> None:
    path = folder(data_dir, slug) / f"{scope}.json"
    write_atomic(path, json.dumps(manifest, indent=2, sort_keys=True).encode())


def read_manifest(data_dir: Path, slug: str, scope: str) -> dict[str, Any] | None:
    try:
        return dict(json.loads((folder(data_dir, slug) / f"{scope}.json").read_text()))
    except (OSError, ValueError):
        return None


def is_complete(data_dir: Path, slug: str, scope: str, formats: tuple[str, ...] = FORMATS) -> bool:
    """Compiled after its mornings were over, in every format."""
    manifest = read_manifest(data_dir, slug, scope)
    if not manifest or not manifest.get("complete"):
        return False
    return all((folder(data_dir, slug) / f"{scope}.{fmt}").is_file() for fmt in formats)


def list_reports(data_dir: Path, slug: str) -> list[StoredReport]:
    base = folder(data_dir, slug)
    if not base.is_dir():
        return []
    found = []
    manifests: dict[str, dict[str, Any] | None] = {}
    for path in base.iterdir():
        scope, dot, fmt = path.name.partition(".")
        if not dot or fmt not in FORMATS or not SCOPE_RE.fullmatch(scope):
            continue
        try:
            stat = path.stat()
        except FileNotFoundError:  # replaced between listing and stat
            continue
        if scope not in manifests:
            manifests[scope] = read_manifest(data_dir, slug, scope)
        manifest = manifests[scope] or {}
        found.append(
            StoredReport(
                scope=scope,
                format=fmt,
                path=path,
                bytes=stat.st_size,
                compiled_at=datetime.fromtimestamp(stat.st_mtime, UTC),
                complete=bool(manifest.get("complete")),
            )
        )
    return sorted(found, key=lambda r: (r.scope != "event", r.scope, FORMATS.index(r.format)))
