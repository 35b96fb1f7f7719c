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

The session (the programme of ``config/programmes/idm-2022-1.yaml``, Monday 28 February 2022, New
York time) runs on a scripted clock, so it is the same on every run, and reaches every event type.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, DateTime, Engine, Table, create_engine, event, insert, select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import Session

from server.adapters.bus.memory import MemoryBus
from server.adapters.db import migrate
from server.adapters.db.base import Base
from server.adapters.db.engine import make_sessionmaker
from server.adapters.db.models import LiveStateRow, Registration, Segment, SegmentPerson, User
from server.adapters.db.types import UTCDateTime
from server.core.records import EVENT_FORMAT, STATE_FORMAT
from server.core.state import Actor
from server.programme.parser import load_programme
from server.protocol import parse_command
from server.services import reports
from server.services.attendance import AttendanceService
from server.services.live import LiveService
from server.services.programmes import upsert_programme

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "data" / "records"
PROGRAMME = ROOT / "config" / "programmes" / "idm-2022-1.yaml"
NY = ZoneInfo("America/New_York")
DAY = date(2022, 2, 28)
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


def ny(clock: str) -> datetime:
    hour, minute = (int(part) for part in clock.split(":"))
    return datetime(DAY.year, DAY.month, DAY.day, hour, minute, tzinfo=NY).astimezone(UTC)


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
        session.execute(
            insert(table), [{key: _from_json(table, key, value) for key, value in row.items()} for row in rows]
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
                insert_rows(session, name, self.database[name])
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
        report = reports.build(session, event_id, REPORT_SCOPE, now=REPORT_NOW)
    # through JSON and back, so float and date forms compare as they are stored
    figures: dict[str, Any] = json.loads(json.dumps(report_figures(report)))
    return figures


# -- the session -------------------------------------------------------------------------------------------


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: ny("08:00"))

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Cast:
    moderator: Actor
    moderator_key: str
    attendees: dict[str, tuple[Actor, str]]
    people: dict[str, int]
    segments: dict[str, int]


ATTENDEES = (
    ("Ana Silva", "member_state", "BR", "Mission of Brazil"),
    ("Ben Okafor", "civil_society", "NG", "Migrant Voices"),
    ("Chen Wei", "academia", "CN", "Fudan University"),
    ("Dana Roy", "media", "CA", "CBC"),
)
PRESENCES = (  # (attendee, connection, start, end): Ben reconnects, Dana leaves early
    ("Ana Silva", "c-ana", "08:55", "12:05"),
    ("Ben Okafor", "c-ben-1", "09:10", "10:50"),
    ("Ben Okafor", "c-ben-2", "11:00", "12:00"),
    ("Chen Wei", "c-chen", "09:30", "11:30"),
    ("Dana Roy", "c-dana", "10:00", "10:20"),
)


async def _prepare(sessions: Any) -> Cast:
    async with sessions() as session, session.begin():
        event, _ = await upsert_programme(session, load_programme(PROGRAMME))
        mia = User(email="mia.moderator@example.org", name="Mia Moderator")
        session.add(mia)
        registrations = {}
        for name, category, country, organisation in ATTENDEES:
            registration = Registration(
                event_id=event.id,
                name=name,
                email=name.lower().replace(" ", ".") + "@example.org",
                organisation=organisation,
                category=category,
                country=country,
                language="en",
                join_nonce="golden",
                created_at=datetime(2022, 2, 20, 15, 0, tzinfo=UTC),
            )
            session.add(registration)
            registrations[name] = registration
        await session.flush()
        segments = {s.key: s.id for s in (await session.execute(select(Segment))).scalars()}
        people = {p.name: p.id for p in (await session.execute(select(SegmentPerson))).scalars()}
        attendees = {
            name: (Actor(r.id, "attendee", r.name, r.organisation or None), f"a:{r.id}")
            for name, r in registrations.items()
        }
        return Cast(Actor(mia.id, "moderator", mia.name), f"u:{mia.id}", attendees, people, segments)


def script(cast: Cast) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(New York time, who, command) in order; ``who`` is "mod" or an attendee's first name.
    Commands that need an id from an earlier result read it from ``cast`` lazily (see ``play``)."""
    seg, people = cast.segments, cast.people
    yield "09:00", "mod", {"type": "segment.open", "segment_id": seg["d1-opening"]}
    yield "09:02", "mod", {"type": "floor.grant", "person_id": people["António Vitorino"]}
    yield "09:05", "mod", {"type": "speech.set_limit", "seconds": 360}
    yield "09:06", "mod", {"type": "speech.pause"}
    yield "09:07", "mod", {"type": "speech.resume"}
    yield "09:10", "mod", {"type": "speech.end"}
    yield "09:12", "mod", {"type": "notice.set", "text": "The first panel starts at 09:32"}
    yield "09:20", "mod", {"type": "segment.pause", "segment_id": seg["d1-opening"]}
    yield "09:22", "mod", {"type": "segment.resume", "segment_id": seg["d1-opening"]}
    yield "09:31", "mod", {"type": "segment.end", "segment_id": seg["d1-opening"]}
    yield "09:31", "mod", {"type": "notice.clear"}
    yield "09:32", "mod", {"type": "segment.open", "segment_id": seg["d1-panel-1"]}
    yield "09:33", "mod", {"type": "floor.grant", "person_id": people["Mariam Yassin Hagi Yussuf"]}
    yield "09:40", "Ana", {"type": "floor.request", "topic": "Search and rescue", "on_behalf_of": "Brazil"}
    yield "09:41", "Ben", {"type": "floor.request", "topic": "Counting the missing"}
    yield "09:42", "Chen", {"type": "floor.request", "point_of_order": True}
    yield "09:43", "Dana", {"type": "floor.request"}
    yield "09:44", "mod", {"type": "queue.reorder", "entry_ids": [3, 2, 1, 4]}
    yield "09:45", "Dana", {"type": "floor.withdraw"}
    yield "09:46", "mod", {"type": "queue.remove", "entry_id": 2}
    yield "09:47", "mod", {"type": "floor.grant", "entry_id": 3}
    yield "09:50", "mod", {"type": "speech.end"}
    yield "09:51", "mod", {"type": "floor.grant", "entry_id": 1}
    yield "09:55", "mod", {"type": "speech.end"}
    yield "10:00", "mod", {"type": "queue.close"}
    yield "10:05", "mod", {"type": "queue.open"}
    yield "10:10", "Ben", {"type": "question.ask", "text": "How do we count the missing?",
                           "addressed_to": people["Florian von König"]}  # fmt: skip
    yield "10:12", "mod", {"type": "question.approve", "question_id": 1, "text": "How do we count missing migrants?"}
    yield "10:13", "Chen", {"type": "question.vote", "question_id": 1, "up": True}
    yield "10:13", "Ana", {"type": "question.vote", "question_id": 1, "up": True}
    yield "10:14", "votes", {}
    yield "10:15", "mod", {"type": "question.highlight", "question_id": 1}
    yield "10:18", "mod", {"type": "question.answer", "question_id": 1}
    yield "10:20", "Chen", {"type": "question.ask", "text": "Who funds the data work?", "anonymous": True}
    yield "10:21", "mod", {"type": "question.edit", "question_id": 2, "text": "Who funds the data collection?"}
    yield "10:22", "mod", {"type": "question.approve", "question_id": 2}
    yield "10:25", "mod", {"type": "question.dismiss", "question_id": 2}
    yield "10:26", "mod", {"type": "question.restore", "question_id": 2}
    yield "10:27", "mod", {"type": "question.approve", "question_id": 2}
    yield "10:30", "mod", {"type": "question.archive", "question_id": 2}
    yield "10:31", "mod", {"type": "question.restore", "question_id": 2}
    yield "10:32", "mod", {"type": "question.highlight", "question_id": 2}
    yield "10:33", "mod", {"type": "question.highlight", "question_id": None}
    yield "10:40", "mod", {"type": "qa.set_moderation", "enabled": False}
    yield "10:41", "Ana", {"type": "question.ask", "text": "Will the data be public?"}
    yield "10:42", "mod", {"type": "qa.set_moderation", "enabled": True}
    yield "10:43", "Chen", {"type": "question.ask", "text": "What about climate displacement?"}
    yield "10:46", "mod", {"type": "segment.end", "segment_id": seg["d1-panel-1"]}
    yield "10:47", "mod", {"type": "segment.open", "segment_id": seg["d1-panel-2"]}
    yield "10:50", "mod", {"type": "floor.grant", "person_id": people["Silke Albert"]}
    yield "11:05", "Ben", {"type": "floor.request", "topic": "Funding"}
    yield "11:06", "mod", {"type": "floor.grant", "entry_id": 5}
    yield "11:09", "mod", {"type": "speech.end"}
    yield "11:20", "Ana", {"type": "question.vote", "question_id": 3, "up": True}
    yield "11:20", "Ana", {"type": "question.vote", "question_id": 1, "up": False}
    yield "11:21", "votes", {}
    yield "12:05", "mod", {"type": "segment.end", "segment_id": seg["d1-panel-2"]}


PRESENCE_COUNTS = {  # New York time -> (online, peak today, by category), as the hub measures them
    "09:15": (2, 2, {"member_state": 1, "civil_society": 1}),
    "10:05": (4, 4, {"member_state": 1, "civil_society": 1, "academia": 1, "media": 1}),
    "10:55": (2, 4, {"member_state": 1, "academia": 1}),
    "11:45": (2, 4, {"member_state": 1, "civil_society": 1}),
}


def _no_fsync(connection: Any, _record: Any) -> None:
    connection.execute("PRAGMA synchronous=OFF")  # a scratch file: durability does not matter


async def play(database_url: str, folder_for_state: Callable[[dict[str, Any]], None] | None = None) -> int:
    """Play the session into the migrated database at ``database_url``; returns the event id.
    ``folder_for_state`` gets the ``live_states`` row as it was before the first event."""
    engine = create_async_engine(database_url)
    event.listen(engine.sync_engine, "connect", _no_fsync)
    sessions = make_sessionmaker(engine)
    clock = Clock()
    bus = MemoryBus()
    await bus.start()
    live = LiveService(sessions, bus, clock=clock)
    attendance = AttendanceService(sessions, "golden")
    try:
        cast = await _prepare(sessions)
        async with sessions() as session:
            event_id = (await session.execute(select(Segment.event_id))).scalars().first()
        assert event_id is not None
        clock.now = ny("08:30")
        await live.ensure_state(event_id)
        if folder_for_state is not None:
            async with sessions() as session:
                row = await session.get(LiveStateRow, event_id)
                assert row is not None
                folder_for_state({c.key: _to_json(getattr(row, c.key)) for c in LiveStateRow.__table__.columns})
        steps: list[tuple[datetime, int, Any]] = []
        for order, (clock_text, who, command) in enumerate(script(cast)):
            steps.append((ny(clock_text), order, (who, command)))
        for clock_text, counts in PRESENCE_COUNTS.items():
            steps.append((ny(clock_text), -1, ("presence", counts)))
        for name, connection, start, end in PRESENCES:
            steps.append((ny(start), -2, ("open", (name, connection))))
            steps.append((ny(end), -2, ("close", connection)))
        cid = 0
        for when, _, (who, what) in sorted(steps, key=lambda step: (step[0], step[1])):
            clock.now = when
            if who == "open":
                name, connection = what
                registration = cast.attendees[name][0].user_id
                await attendance.open(
                    event_id=event_id, registration_id=registration, connection_id=connection, at=when
                )
            elif who == "close":
                await attendance.close(what, at=when)
            elif who == "presence":
                online, peak, by_category = what
                await live.record_presence(event_id, online=online, peak_today=peak, by_category=by_category)
            elif who == "votes":
                await live.flush_votes()
            else:
                cid += 1
                actor, key = (cast.moderator, cast.moderator_key) if who == "mod" else _attendee(cast, who)
                parsed = parse_command(json.dumps({"cid": f"g{cid}", **what}))
                reply = await live.execute(event_id, parsed, actor=actor, actor_key=key)  # type: ignore[arg-type]
                if reply.type != "result":
                    raise RuntimeError(f"{clock_text_of(when)} {what['type']} was refused: {reply}")
        return int(event_id)
    finally:
        await bus.close()
        await engine.dispose()


def _attendee(cast: Cast, first_name: str) -> tuple[Actor, str]:
    return next(value for name, value in cast.attendees.items() if name.split()[0] == first_name)


def clock_text_of(when: datetime) -> str:
    return when.astimezone(NY).strftime("%H:%M")


# -- writing the folder --------------------------------------------------------------------------------


def generate(work: Path) -> dict[str, Any]:
    """Play the session in ``work`` and return the files of a golden folder (name → JSON value)."""
    database = work / "golden.db"
    sync = create_engine(f"sqlite:///{database}")
    migrate.upgrade(sync)
    initial: dict[str, Any] = {}
    event_id = asyncio.run(play(f"sqlite+aiosqlite:///{database}", initial.update))
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
