"""The golden morning: a scripted session played through the real live service.

The programme of ``config/programmes/idm-2022-1.yaml`` on Monday 28 February 2022 (New York time):
a moderator, four attendees with their connections, every command and both service-fed counters,
so the event log reaches every event type. The clock is scripted, so every run stores the same
records (but the epoch). ``tests/records_golden.py`` writes what it stores.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import create_async_engine

from server.adapters.bus.memory import MemoryBus
from server.adapters.clock import ManualClock
from server.adapters.db.engine import make_sessionmaker
from server.adapters.db.models import LiveStateRow, Registration, Segment, SegmentPerson, User
from server.core.speaking_order import known_category
from server.core.state import Actor
from server.programme.parser import load_programme
from server.protocol import parse_command
from server.services.attendance import AttendanceService
from server.services.live import LiveService
from server.services.programmes import upsert_programme
from tests.fixtures.parley import STALE_AFTER

PROGRAMME = Path(__file__).resolve().parents[1] / "config" / "programmes" / "idm-2022-1.yaml"
NY = ZoneInfo("America/New_York")
DAY = date(2022, 2, 28)


def ny(clock: str) -> datetime:
    hour, minute = (int(part) for part in clock.split(":"))
    return datetime(DAY.year, DAY.month, DAY.day, hour, minute, tzinfo=NY).astimezone(UTC)


@dataclass
class Cast:
    moderator: Actor
    moderator_key: str
    organiser: Actor
    organiser_key: str
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
        olu = User(email="olu.organiser@example.org", name="Olu Organiser")
        session.add(olu)
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
            name: (
                Actor(
                    r.id,
                    "attendee",
                    r.name,
                    r.organisation or None,
                    kind="attendee",
                    category=known_category(r.category),
                ),
                f"a:{r.id}",
            )
            for name, r in registrations.items()
        }
        return Cast(
            Actor(mia.id, "moderator", mia.name, kind="staff"),
            f"u:{mia.id}",
            Actor(olu.id, "organiser", olu.name, kind="staff"),
            f"u:{olu.id}",
            attendees,
            people,
            segments,
        )


def script(cast: Cast) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(New York time, who, what) in order. ``who`` is "mod" or an attendee's first name (``what``:
    the command, without its cid), "org" (the organiser) or "votes" (the service's coalesced vote
    flush). Entry, question and statement ids are the ones the core allocates in this order (1, 2, ...)."""
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
    yield "09:44", "mod", {"type": "queue.set_order", "order": "category"}
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
    panel = seg["d1-panel-2"]
    yield "11:10", "mod", {"type": "poll.prepare", "segment_id": panel,
                           "question": "Should the dialogue meet twice a year?",
                           "options": ["Yes", "No", "Abstain"]}  # fmt: skip
    yield "11:10", "mod", {"type": "poll.prepare", "segment_id": panel, "question": "Which themes next year?",
                           "options": ["Data", "Climate", "Labour"],
                           "choice": "multiple", "anonymous": False}  # fmt: skip
    yield "11:11", "mod", {"type": "poll.prepare", "segment_id": panel, "question": "Spare?", "options": ["A", "B"]}
    yield "11:11", "mod", {"type": "poll.discard", "poll_id": 3}
    yield "11:12", "mod", {"type": "poll.open", "poll_id": 1}
    yield "11:13", "Ana", {"type": "poll.vote", "poll_id": 1, "option_ids": [1]}
    yield "11:13", "Ben", {"type": "poll.vote", "poll_id": 1, "option_ids": [2]}
    yield "11:13", "Chen", {"type": "poll.vote", "poll_id": 1, "option_ids": [1]}
    yield "11:14", "Ben", {"type": "poll.vote", "poll_id": 1, "option_ids": [1]}
    yield "11:14", "votes", {}
    yield "11:15", "mod", {"type": "poll.publish", "poll_id": 1}
    yield "11:15", "Dana", {"type": "poll.vote", "poll_id": 1, "option_ids": [3]}
    yield "11:16", "votes", {}
    yield "11:17", "mod", {"type": "poll.close", "poll_id": 1}
    yield "11:18", "mod", {"type": "poll.open", "poll_id": 2}
    yield "11:19", "Ana", {"type": "poll.vote", "poll_id": 2, "option_ids": [1, 2]}
    yield "11:19", "Chen", {"type": "poll.vote", "poll_id": 2, "option_ids": [2]}
    yield "11:19", "mod", {"type": "poll.close", "poll_id": 2}
    yield "11:20", "Ana", {"type": "question.vote", "question_id": 3, "up": True}
    yield "11:20", "Ana", {"type": "question.vote", "question_id": 1, "up": False}
    yield "11:21", "votes", {}
    yield "11:30", "Ana", {"type": "floor.request", "topic": "Data", "on_behalf_of": "Brazil"}
    yield "12:05", "mod", {"type": "segment.end", "segment_id": seg["d1-panel-2"]}  # Ana left waiting
    yield "12:06", "org", {"type": "statements.set_deadline", "after_s": 7200}
    yield "12:10", "Ana", {"type": "statement.submit", "segment_id": seg["d1-panel-2"], "language": "en",
                           "text": "Brazil supports the data work."}  # fmt: skip
    yield "12:11", "mod", {"type": "statement.reject", "statement_id": 1, "reason": "Please say more"}
    yield "12:12", "Ana", {"type": "statement.submit", "segment_id": seg["d1-panel-2"], "language": "fr",
                           "text": "Le Brésil soutient le travail sur les données.\nMerci."}  # fmt: skip
    yield "12:13", "mod", {"type": "statement.approve", "statement_id": 1}


PRESENCE_COUNTS = {  # New York time -> (online, peak today, by category), as the hub measures them
    "09:15": (2, 2, {"member_state": 1, "civil_society": 1}),
    "10:05": (4, 4, {"member_state": 1, "civil_society": 1, "academia": 1, "media": 1}),
    "10:55": (2, 4, {"member_state": 1, "academia": 1}),
    "11:45": (2, 4, {"member_state": 1, "civil_society": 1}),
}


def _no_fsync(connection: Any, _record: Any) -> None:
    connection.execute("PRAGMA synchronous=OFF")  # a scratch file: durability does not matter


async def play(database_url: str, on_initial_state: Callable[[LiveStateRow], None] | None = None) -> int:
    """Play the session into the migrated, empty database at ``database_url``; returns the event
    id. ``on_initial_state`` gets the ``live_states`` row as it was before the first event."""
    engine = create_async_engine(database_url)
    event.listen(engine.sync_engine, "connect", _no_fsync)
    sessions = make_sessionmaker(engine)
    clock = ManualClock(ny("08:00"))
    bus = MemoryBus()
    await bus.start()
    live = LiveService(sessions, bus, clock=clock)
    attendance = AttendanceService(sessions, "golden", stale_after=STALE_AFTER)
    try:
        cast = await _prepare(sessions)
        async with sessions() as session:
            event_id = (await session.execute(select(Segment.event_id))).scalars().first()
        assert event_id is not None
        clock.set(ny("08:30"))
        await live.ensure_state(event_id)
        if on_initial_state is not None:
            async with sessions() as session:
                row = await session.get(LiveStateRow, event_id)
                assert row is not None
                on_initial_state(row)
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
            clock.set(when)
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
                if who == "mod":
                    actor, key = cast.moderator, cast.moderator_key
                elif who == "org":
                    actor, key = cast.organiser, cast.organiser_key
                else:
                    actor, key = _attendee(cast, who)
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
