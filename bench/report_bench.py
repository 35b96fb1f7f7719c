"""Attendance report benchmark: 10,000 attendees over the three mornings of the shipped IDM 2022
programme, every format, time and peak memory each.

The data is generated straight into a migrated SQLite database in a temporary folder: registrations,
presence intervals with reconnects, second tabs and a few rows left open, and the live session
played through the real core (segments opened late and ended by the moderator, speakers from the
floor, questions with moderation decisions and votes). Each format is then compiled in a fresh
process (``--one``), so its peak resident memory is its own, and once more all three together as
the worker does it.

    python -m bench                  # or: make bench, or: python -m bench report
    python -m bench --attendees 2000 --keep
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, insert, select
from sqlalchemy.orm import Session

TARGET_S = 30.0
TARGET_MIB = 500.0
SCOPE = "event"
CATEGORIES = ("member_state", "un_system", "intergovernmental", "civil_society", "academia", "media", "other")
COUNTRIES = ("FR", "US", "BR", "SN", "NG", "DE", "IN", "MX", "JP", "KE", "PH", "CA", "EG", "AR", "ZA", "ES", "IT", "CN")


# -- generating the data -------------------------------------------------------------------------------


def load_programme(database: Path) -> int:
    from config.settings import SHIPPED_PROGRAMMES
    from server.adapters.db.models import Event
    from server.programme import load_programme as parse
    from server.services import programmes

    spec = parse(SHIPPED_PROGRAMMES / "idm-2022-1.yaml")

    async def load() -> int:
        from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

        engine = create_async_engine(f"sqlite+aiosqlite:///{database}")
        async with AsyncSession(engine) as session, session.begin():
            await programmes.upsert_programme(session, spec)
            event_id = (await session.execute(select(Event.id).where(Event.slug == spec.slug))).scalar_one()
        await engine.dispose()
        return int(event_id)

    return asyncio.run(load())


def add_registrations(engine: Engine, event_id: int, count: int, rng: random.Random) -> list[int]:
    from server.adapters.db.models import Registration

    created = datetime(2022, 2, 1, tzinfo=UTC)
    rows = [
        {
            "event_id": event_id,
            "name": f"Attendee {n:05d}" if n % 97 else f"=Attendee {n:05d}",
            "email": f"attendee{n:05d}@example.org",
            "organisation": f"Organisation {n % 731}",
            "category": rng.choice(CATEGORIES),
            "country": rng.choice(COUNTRIES),
            "language": rng.choice(("fr", "en", "es")),
            "join_nonce": "bench",
            "listed": False,
            "created_at": created,
        }
        for n in range(count)
    ]
    with engine.begin() as connection:
        connection.execute(insert(Registration), rows)
        ids = connection.execute(select(Registration.id).where(Registration.event_id == event_id)).scalars().all()
    return list(ids)


def morning_presence(start: datetime, end: datetime, rng: random.Random) -> list[tuple[datetime, datetime, bool]]:
    """One attendee's connections in one morning: (start, end, still open)."""
    span = (end - start).total_seconds()
    join = start + timedelta(seconds=rng.gauss(0, 600) if rng.random() < 0.85 else rng.uniform(0, span * 0.8))
    leave = (
        end + timedelta(seconds=rng.gauss(0, 600))
        if rng.random() < 0.75
        else join + timedelta(seconds=rng.uniform(300, span))
    )
    if leave <= join:
        return []
    cuts = sorted(join + (leave - join) * rng.random() for _ in range(rng.choice((0, 0, 1, 1, 2, 3))))
    pieces, cursor = [], join
    for cut in cuts:  # a reconnect: a gap of 0 s (touching) to 3 min
        if cut > cursor:
            pieces.append((cursor, cut, False))
        cursor = cut + timedelta(seconds=rng.choice((0, 5, 20, 90, 180)))
    if leave > cursor:
        pieces.append((cursor, leave, rng.random() < 0.01))
    if pieces and rng.random() < 0.1:  # a second tab for a while
        first = pieces[0]
        pieces.append((first[0], first[0] + (first[1] - first[0]) / 2, False))
    return pieces


def add_presences(
    engine: Engine, event_id: int, people: list[int], mornings: list[tuple[datetime, datetime]], rng: random.Random
) -> int:
    from server.adapters.db.models import Presence

    rows: list[dict[str, Any]] = []
    for start, end in mornings:
        for reg in people:
            if rng.random() > 0.82:
                continue
            for begin, finish, still_open in morning_presence(start, end, rng):
                rows.append(
                    {
                        "event_id": event_id,
                        "registration_id": reg,
                        "connection_id": f"b{len(rows)}",
                        "server_id": "bench",
                        "started_at": begin,
                        "last_seen_at": finish,
                        "ended_at": None if still_open else finish,
                    }
                )
    with engine.begin() as connection:
        for chunk in range(0, len(rows), 20_000):
            connection.execute(insert(Presence), rows[chunk : chunk + 20_000])
    return len(rows)


def play_live_session(engine: Engine, event_id: int, people: list[int], rng: random.Random) -> tuple[int, int, int]:
    """Every segment opened a little late and ended by the moderator; floor speeches and questions
    in each panel through the real core; votes straight into the votes table. (speeches, questions, votes)"""
    from sqlalchemy.orm import selectinload

    from server.adapters.db.models import EventLogEntry, LiveStateRow, QuestionVote, Segment, User
    from server.core import decide, new_live_state
    from server.core.model import Person, SegmentInfo
    from server.core.records import encode_event, encode_state
    from server.core.state import Actor
    from server.protocol import (
        FloorGrant,
        FloorRequest,
        QuestionAnswer,
        QuestionApprove,
        QuestionAsk,
        QuestionDismiss,
        SegmentEnd,
        SegmentOpen,
        SpeechEnd,
    )

    with Session(engine) as session, session.begin():
        moderator = User(email="bench-moderator@example.org", name="Bench Moderator")
        session.add(moderator)
        session.flush()
        segments = (
            session.execute(
                select(Segment)
                .where(Segment.event_id == event_id)
                .options(selectinload(Segment.people), selectinload(Segment.day))
                .order_by(Segment.starts_at)
            )
            .scalars()
            .all()
        )
        infos = [
            SegmentInfo(
                id=s.id,
                key=s.key,
                kind=s.kind,
                day=s.day.date,
                title=s.title,
                starts_at=s.starts_at,
                ends_at=s.ends_at,
                people=tuple(Person(id=p.id, name=p.name, role=p.role) for p in s.people),
            )
            for s in segments
        ]
        state = new_live_state(infos)
        seq = {"public": 0, "staff": 0}
        log: list[dict[str, Any]] = []
        mia = Actor(moderator.id, "moderator", "Bench Moderator", kind="staff")
        counters = {"cid": 0, "speeches": 0, "questions": 0}

        def run(command_type: Any, actor: Actor, when: datetime, **fields: Any) -> None:
            nonlocal state
            counters["cid"] += 1
            state, emitted = decide(state, command_type(cid=f"b{counters['cid']}", **fields), actor=actor, now=when)
            key = f"{'a' if actor.role == 'attendee' else 'u'}:{actor.user_id}"
            for channel, event in emitted:
                seq[channel] += 1
                payload, payload_format = encode_event(event)
                log.append(
                    {
                        "event_id": event_id,
                        "channel": channel,
                        "seq": seq[channel],
                        "type": event.type,
                        "payload": payload,
                        "format": payload_format,
                        "actor": key,
                        "at": when,
                    }
                )

        votes: list[dict[str, Any]] = []
        last_end = datetime.min.replace(tzinfo=UTC)
        for segment in segments:
            # a little late, and never before the previous segment ended (time only moves forward)
            clock = max(segment.starts_at + timedelta(minutes=rng.uniform(0, 4)), last_end + timedelta(seconds=20))
            run(SegmentOpen, mia, clock, segment_id=segment.id)
            span = (segment.ends_at - clock).total_seconds()
            if segment.kind == "panel":
                speakers = rng.sample(people, 8)
                for n, reg in enumerate(speakers):
                    when = clock + timedelta(seconds=span * (n + 1) / 20)
                    run(
                        FloorRequest,
                        Actor(reg, "attendee", f"Attendee {reg}", kind="attendee"),
                        when,
                        topic=f"Topic {n}",
                    )
                    entry_id = state.public.queue.waiting[-1].id
                    run(FloorGrant, mia, when + timedelta(seconds=5), entry_id=entry_id)
                    run(SpeechEnd, mia, when + timedelta(seconds=rng.uniform(40, min(240, span / 20 - 10))))
                    counters["speeches"] += 1
                for n in range(40):
                    when = clock + timedelta(seconds=span * (n + 1) / 42)
                    asker = rng.choice(people)
                    run(
                        QuestionAsk,
                        Actor(asker, "attendee", f"Attendee {asker}", kind="attendee"),
                        when,
                        text=f"Question {n} of {segment.key}: what about point {rng.randint(1, 99)}?",
                    )
                    question_id = state.counters.next_question_id - 1
                    counters["questions"] += 1
                    roll = rng.random()
                    if roll < 0.15:
                        run(QuestionDismiss, mia, when + timedelta(seconds=30), question_id=question_id)
                    elif roll < 0.9:
                        run(QuestionApprove, mia, when + timedelta(seconds=30), question_id=question_id)
                        for voter in rng.sample(people, rng.randint(0, 150)):
                            votes.append(
                                {
                                    "event_id": event_id,
                                    "question_id": question_id,
                                    "voter": f"a:{voter}",
                                    "at": when + timedelta(seconds=60),
                                }
                            )
                        if roll < 0.4:
                            run(QuestionAnswer, mia, when + timedelta(seconds=90), question_id=question_id)
            last_end = max(segment.ends_at + timedelta(minutes=rng.uniform(-2, 6)), clock + timedelta(seconds=span))
            run(SegmentEnd, mia, last_end, segment_id=segment.id)
        session.execute(insert(EventLogEntry), log)
        session.execute(insert(QuestionVote), votes)
        stored_state, state_format = encode_state(state)
        session.add(
            LiveStateRow(
                event_id=event_id,
                epoch="bench",
                public_seq=seq["public"],
                staff_seq=seq["staff"],
                state=stored_state,
                format=state_format,
            )
        )
    return counters["speeches"], counters["questions"], len(votes)


def generate(folder: Path, attendees: int, seed: int) -> tuple[int, dict[str, Any]]:
    from server.adapters.db import migrate
    from server.adapters.db.models import Day

    database = folder / "parley.db"
    engine = create_engine(f"sqlite:///{database}")
    migrate.upgrade(engine)
    event_id = load_programme(database)
    rng = random.Random(seed)
    people = add_registrations(engine, event_id, attendees, rng)
    with Session(engine) as session:
        mornings = [
            (d.starts_at, d.ends_at)
            for d in session.execute(select(Day).where(Day.event_id == event_id).order_by(Day.date)).scalars()
        ]
    presences = add_presences(engine, event_id, people, mornings, rng)
    speeches, questions, votes = play_live_session(engine, event_id, people, rng)
    engine.dispose()
    return event_id, {
        "attendees": attendees,
        "mornings": len(mornings),
        "presence_rows": presences,
        "speeches": speeches,
        "questions": questions,
        "votes": votes,
    }


# -- measuring ------------------------------------------------------------------------------------------


def compile_once(database: Path, data_dir: Path, event_id: int, formats: tuple[str, ...]) -> dict[str, Any]:
    """In this process: build the report of the whole event and write ``formats``; time and peak RSS."""
    from config.settings import Settings
    from server.services.attendance import presence_stale_after
    from server.services.reports import service

    defaults = Settings.model_fields
    stale_after = presence_stale_after(
        heartbeat_s=defaults["heartbeat_s"].default, idle_timeout_s=defaults["idle_timeout_s"].default
    )
    engine = create_engine(f"sqlite:///{database}")
    now = datetime(2022, 3, 10, tzinfo=UTC)
    started = time.perf_counter()
    with service.read_session(engine) as session:
        report = service.build(session, event_id, SCOPE, now=now, stale_after=stale_after)
    built = time.perf_counter()
    files = service.write_report(report, data_dir, formats)
    finished = time.perf_counter()
    engine.dispose()
    return {
        "formats": list(formats),
        "build_s": round(built - started, 2),
        "write_s": round(finished - built, 2),
        "total_s": round(finished - started, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "bytes": {fmt: path.stat().st_size for fmt, path in files.items()},
        "attendee_rows": len(report.table("attendees").rows),
    }


def measure(database: Path, data_dir: Path, event_id: int, formats: tuple[str, ...]) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "bench.report_bench",
        "--one",
        ",".join(formats),
        "--database",
        str(database),
        "--data-dir",
        str(data_dir),
        "--event-id",
        str(event_id),
    ]
    out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--attendees", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and print it")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--event-id", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:  # the child process
        print(
            json.dumps(
                compile_once(Path(args.database), Path(args.data_dir), args.event_id, tuple(args.one.split(",")))
            )
        )
        return 0

    from server.services.reports import FORMATS

    folder = Path(tempfile.mkdtemp(prefix="parley-report-bench-"))
    try:
        started = time.perf_counter()
        event_id, sizes = generate(folder, args.attendees, args.seed)
        print(
            f"generated in {time.perf_counter() - started:.1f} s: " + ", ".join(f"{v:,} {k}" for k, v in sizes.items())
        )
        print(f"report: whole event ({sizes['mornings']} mornings), SQLite in {folder}")
        print(f"{'format':<22}{'build s':>9}{'write s':>9}{'total s':>9}{'peak MiB':>10}{'size KiB':>10}")
        over = False
        for formats in [(fmt,) for fmt in FORMATS] + [FORMATS]:
            result = measure(folder / "parley.db", folder / "data", event_id, formats)
            name = "all three" if len(formats) > 1 else formats[0]
            size = sum(result["bytes"].values()) / 1024
            ok = result["total_s"] < TARGET_S and result["peak_rss_mib"] < TARGET_MIB
            over |= not ok
            print(
                f"{name:<22}{result['build_s']:>9.2f}{result['write_s']:>9.2f}{result['total_s']:>9.2f}"
                f"{result['peak_rss_mib']:>10.1f}{size:>10.0f}  {'ok' if ok else 'OVER TARGET'}"
            )
        print(f"target: under {TARGET_S:.0f} s and {TARGET_MIB:.0f} MiB per format (peak RSS of the compiling process)")
        return 1 if over else 0
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
