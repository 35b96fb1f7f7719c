"""Golden records: a morning played through the real live service, stored as the database holds it.

``python -m tests.records_golden`` plays the session into a fresh SQLite database and says what it
would write; ``--write`` writes ``tests/data/records/<name>/`` for the current formats, on purpose
only: a folder of golden records is never rewritten once a format is released (``--force`` to
redo the folder of formats not yet released). Each folder holds:

- ``event_log.json``: every ``event_log`` row (payload and format as stored);
- ``live_state.json``: the ``live_states`` row before the first event (``initial``) and at the end
  (``final``);
- ``database.json``: the rest of what a report reads (programme, staff, registrations, presences,
  votes);
- ``report.json``: the figures of the morning's report built from all of it.

``tests/test_records.py`` loads every folder, old formats included, into SQLite and PostgreSQL.

The session is ``tests/golden_session.py``: a morning on a scripted clock that reaches every event type.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Date, DateTime, Engine, MetaData, Table, create_engine, insert, inspect, select
from sqlalchemy.orm import Session

from server.adapters.db import migrate
from server.adapters.db.base import Base
from server.adapters.db.models import LiveStateRow
from server.adapters.db.types import UTCDateTime
from server.core.records import EVENT_FORMAT, STATE_FORMAT
from server.services import reports
from tests.fixtures.parley import STALE_AFTER
from tests.golden_session import play

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "data" / "records"
REPORT_SCOPE = "2022-02-28"
REPORT_NOW = datetime(2022, 2, 28, 18, 0, tzinfo=UTC)  # 13:00 in New York: the morning is over

CONTEXT_TABLES = (
    "events",
    "days",
    "segments",
    "segment_people",
    "users",
    "registrations",
    "presences",
    "question_votes",
    "poll_ballots",
)
SKIPPED_COLUMNS = {"events": {"source", "created_at", "updated_at"}, "users": {"created_at", "updated_at"}}
"""Not read by reports and not part of a record: left to their defaults when loaded."""


def golden_name(event_format: int = EVENT_FORMAT, state_format: int = STATE_FORMAT) -> str:
    """The folder of the records written with these formats."""
    if event_format == state_format:
        return f"format-{event_format}"
    return f"format-{event_format}-state-{state_format}"


def golden_folders() -> list[Path]:
    return sorted(p for p in GOLDEN.iterdir() if p.is_dir() and p.name.startswith("format-"))


# -- JSON in and out of the tables ---------------------------------------------------------------------


def _to_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _from_json(table: Table, column: str, value: Any) -> Any:
    kind = table.c[column].type
    if value is None:
        return None
    if isinstance(kind, UTCDateTime | DateTime):
        return datetime.fromisoformat(value)
    if isinstance(kind, Date):
        return date.fromisoformat(value)
    return value


def dump_table(session: Session, name: str) -> list[dict[str, Any]]:
    table = Base.metadata.tables[name]
    skipped = SKIPPED_COLUMNS.get(name, set())
    rows = session.execute(select(table).order_by(*table.primary_key.columns)).mappings()
    return [{key: _to_json(value) for key, value in row.items() if key not in skipped} for row in rows]


def insert_rows(session: Session, name: str, rows: list[dict[str, Any]]) -> None:
    table = Base.metadata.tables[name]
    if rows:
        # only the columns the database has: it may be at an older revision than the models, and a
        # column added since would otherwise be written with its Python-side default
        present = {column["name"] for column in inspect(session.connection()).get_columns(name)}
        narrowed = Table(name, MetaData(), *(column._copy() for column in table.columns if column.name in present))
        session.execute(
            insert(narrowed), [{key: _from_json(table, key, value) for key, value in row.items()} for row in rows]
        )


@dataclass
class Golden:
    """One folder of golden records, read."""

    folder: Path
    event_log: list[dict[str, Any]]
    initial_state: dict[str, Any]
    final_state: dict[str, Any]
    database: dict[str, list[dict[str, Any]]]
    report: dict[str, Any]

    @classmethod
    def read(cls, folder: Path) -> Golden:
        def load(name: str) -> Any:
            return json.loads((folder / name).read_text(encoding="utf-8"))

        states = load("live_state.json")
        return cls(
            folder,
            load("event_log.json"),
            states["initial"],
            states["final"],
            load("database.json"),
            load("report.json"),
        )

    @property
    def event_id(self) -> int:
        return int(self.final_state["event_id"])

    def load_into(self, engine: Engine, *, final_state: bool = True) -> None:
        """Insert the records into a migrated, empty database (ids as stored)."""
        with Session(engine) as session, session.begin():
            for name in CONTEXT_TABLES:
                insert_rows(session, name, self.database.get(name, []))  # a table newer than the folder: empty
            insert_rows(session, "event_log", self.event_log)
            insert_rows(session, "live_states", [self.final_state if final_state else self.initial_state])


# -- the report as plain JSON ----------------------------------------------------------------------------


def _figure(value: Any) -> Any:
    """A report cell as JSON: instants keep their zone (local columns stay local)."""
    return value.isoformat() if isinstance(value, date) else value


def report_figures(report: reports.Report) -> dict[str, Any]:
    """Every figure of a report (summary, every table's columns and rows), as JSON values."""
    return {
        "scope": report.scope,
        "complete": report.complete,
        "as_of": _figure(report.as_of),
        "threshold": report.threshold,
        "summary": [[key, label, _figure(value)] for key, label, value in report.summary],
        "tables": {
            table.name: {
                "columns": [column.key for column in table.columns],
                "rows": [[_figure(value) for value in row] for row in table.rows],
            }
            for table in report.tables
        },
    }


def build_figures(engine: Engine, event_id: int) -> dict[str, Any]:
    with Session(engine) as session:
        report = reports.build(session, event_id, REPORT_SCOPE, now=REPORT_NOW, stale_after=STALE_AFTER)
    # through JSON and back, so float and date forms compare as they are stored
    figures: dict[str, Any] = json.loads(json.dumps(report_figures(report)))
    return figures


# -- writing the folder --------------------------------------------------------------------------------


def generate(work: Path) -> dict[str, Any]:
    """Play the session in ``work`` and return the files of a golden folder (name → JSON value)."""
    database = work / "golden.db"
    sync = create_engine(f"sqlite:///{database}")
    migrate.upgrade(sync)
    initial: dict[str, Any] = {}

    def keep_initial(row: LiveStateRow) -> None:
        initial.update({column.key: _to_json(getattr(row, column.key)) for column in LiveStateRow.__table__.columns})

    event_id = asyncio.run(play(f"sqlite+aiosqlite:///{database}", keep_initial))
    with Session(sync) as session:
        files: dict[str, Any] = {
            "event_log.json": dump_table(session, "event_log"),
            "live_state.json": {"initial": initial, "final": dump_table(session, "live_states")[0]},
            "database.json": {name: dump_table(session, name) for name in CONTEXT_TABLES},
        }
    files["report.json"] = build_figures(sync, event_id)
    sync.dispose()
    return files


def write(folder: Path, files: dict[str, Any]) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name, value in files.items():
        (folder / name).write_text(json.dumps(value, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.records_golden", description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="write the golden folder of the current formats")
    parser.add_argument("--force", action="store_true", help="rewrite that folder even if it exists")
    args = parser.parse_args(argv)
    folder = GOLDEN / golden_name()
    with tempfile.TemporaryDirectory() as work:
        files = generate(Path(work))
    types = sorted({row["type"] for row in files["event_log.json"]})
    print(f"{len(files['event_log.json'])} event log rows, {len(types)} event types; report of {REPORT_SCOPE}")
    if not args.write:
        print(f"nothing written: pass --write to write {folder.relative_to(ROOT)}")
        return 0
    if folder.exists() and not args.force:
        print(f"{folder.relative_to(ROOT)} exists: golden records of a released format are never rewritten "
              "(--force only for a format not yet released)", file=sys.stderr)  # fmt: skip
        return 1
    write(folder, files)
    print(f"wrote {folder.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
