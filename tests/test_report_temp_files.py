"""A report writer killed between its temporary file and the rename leaves the temporary behind
(found by ``python -m bench faults``, docs/reliability.md); the next write of that report removes
it once it is old enough to be a dead writer's, and leaves a young one (a writer still going)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from server.services.reports import store


def test_a_dead_writers_temporary_file_is_removed_by_the_next_write(tmp_path: Path) -> None:
    path = tmp_path / "reports" / "ev" / "event.pdf"
    path.parent.mkdir(parents=True)
    dead = path.parent / ".event.pdf.abc123.tmp"
    dead.write_bytes(b"half a report")
    old = time.time() - store.STALE_TEMP_S - 60
    os.utime(dead, (old, old))
    alive = path.parent / ".event.pdf.def456.tmp"
    alive.write_bytes(b"another writer, still writing")
    other = path.parent / ".event.xlsx.ghi789.tmp"
    other.write_bytes(b"another report's")
    os.utime(other, (old, old))

    store.write_atomic(path, b"%PDF whole")

    assert path.read_bytes() == b"%PDF whole"
    assert sorted(p.name for p in path.parent.iterdir()) == sorted([alive.name, other.name, "event.pdf"])
