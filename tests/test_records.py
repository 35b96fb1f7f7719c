"""Stored records stay readable: the golden records of every format load, replay and report the same.

The golden folders (``tests/data/records/format-*``, written by ``python -m tests.records_golden``)
hold a morning as the database stored it with the code of that format. Every folder is checked
forever: a change to the event or state shapes that old records no longer fit fails here until a
format bump and an upcaster (docs/records.md) lift them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import Session

from server.adapters.bus.memory import MemoryBus
from server.adapters.clock import SystemClock
from server.adapters.db import migrate
from server.adapters.db.engine import make_sessionmaker, make_sync_engine
from server.adapters.db.models import EventLogEntry, LiveStateRow
from server.core.model import EVENT_CHANNELS, FloorRequested, QuestionUnarchived
from server.core.records import (
    EVENT_FORMAT,
    EVENTS,
    STATE_FORMAT,
    STATES,
    RecordError,
    UnknownFormat,
    UnreadableRecord,
    decode_event,
    decode_state,
    encode_event,
    encode_state,
    event_record,
    rebuild_state,
)
from server.protocol import parse_server_frame
from server.services import reports
from server.services.live import LiveService
from tests.fixtures.parley import STALE_AFTER, Parley
from tests.records_golden import (
    GOLDEN,
    REPORT_NOW,
    REPORT_SCOPE,
    Golden,
    build_figures,
    golden_folders,
    golden_name,
    insert_rows,
)

pytestmark = pytest.mark.anyio

FOLDERS = golden_folders()


@pytest.fixture(params=FOLDERS, ids=lambda folder: folder.name, scope="module")
def golden(request: pytest.FixtureRequest) -> Golden:
    return Golden.read(request.param)


def decoded_log(golden: Golden) -> list[Any]:
    return [
        decode_event(
            row["payload"], row["format"], record=event_record(row["id"], row["event_id"], row["channel"], row["seq"])
        )
        for row in sorted(golden.event_log, key=lambda row: row["id"])
    ]


def _engine(parley: Parley) -> Iterator[Engine]:
    engine = make_sync_engine(parley.settings())
    yield engine
    engine.dispose()


@pytest.fixture()
def loaded(parley: Parley, golden: Golden) -> Iterator[tuple[Parley, Engine, Golden]]:
    """A migrated database (SQLite, then PostgreSQL) holding one golden folder."""
    for engine in _engine(parley):
        golden.load_into(engine)
        yield parley, engine, golden


# -- the golden records ---------------------------------------------------------------------------------


def test_the_current_formats_have_golden_records() -> None:
    assert (GOLDEN / golden_name()).is_dir(), (
        f"no golden records for event format {EVENT_FORMAT} / state format {STATE_FORMAT}: "
        "run `python -m tests.records_golden --write` and check the folder in"
    )


def test_every_golden_record_decodes(golden: Golden) -> None:
    events = decoded_log(golden)
    assert len(events) == len(golden.event_log)
    for row, event in zip(sorted(golden.event_log, key=lambda r: r["id"]), events, strict=True):
        assert event.channel == row["channel"]
    decode_state(golden.initial_state["state"], golden.initial_state["format"])
    decode_state(golden.final_state["state"], golden.final_state["format"])


def test_the_golden_session_reaches_every_event_type_of_its_time(golden: Golden) -> None:
    stored = {row["type"] for row in golden.event_log}
    assert stored <= set(EVENT_CHANNELS), "every stored type is still an event type (or renamed by an upcaster)"
    if golden.folder.name == golden_name():
        assert stored == set(EVENT_CHANNELS), (
            f"event types the golden session never emits: {set(EVENT_CHANNELS) - stored}"
        )


def test_replaying_the_golden_event_log_gives_the_stored_live_state(golden: Golden) -> None:
    initial = decode_state(golden.initial_state["state"], golden.initial_state["format"])
    final = decode_state(golden.final_state["state"], golden.final_state["format"])
    assert rebuild_state(initial, decoded_log(golden)) == final
    for channel in ("public", "staff"):
        seqs = sorted(row["seq"] for row in golden.event_log if row["channel"] == channel)
        assert seqs == list(range(1, golden.final_state[f"{channel}_seq"] + 1)), f"{channel} seqs have no gap"


def test_the_current_code_writes_back_what_it_reads_from_the_current_format(golden: Golden) -> None:
    if golden.folder.name != golden_name():
        pytest.skip("older records are lifted on read, not written back")
    for row, event in zip(sorted(golden.event_log, key=lambda r: r["id"]), decoded_log(golden), strict=True):
        assert encode_event(event) == (row["payload"], row["format"])
    final = golden.final_state
    assert encode_state(decode_state(final["state"], final["format"])) == (final["state"], final["format"])


def test_the_report_of_the_golden_records_has_the_recorded_figures(loaded: tuple[Parley, Engine, Golden]) -> None:
    _, engine, golden = loaded
    figures = build_figures(engine, golden.event_id)
    for table, expected in golden.report["tables"].items():
        assert figures["tables"][table] == expected, f"the {table} table of the report changed"
    # tables and summary rows the report gained after the folder was written: empty for its session
    for table in set(figures["tables"]) - set(golden.report["tables"]):
        assert figures["tables"].pop(table)["rows"] == [], f"the new {table} table has rows for an old session"
    known = {row[0] for row in golden.report["summary"]}
    added = [row for row in figures["summary"] if row[0] not in known]
    assert all(row[2] == 0 for row in added), added
    figures["summary"] = [row for row in figures["summary"] if row[0] in known]
    assert figures == golden.report


async def test_the_live_service_reads_the_golden_records(loaded: tuple[Parley, Engine, Golden]) -> None:
    """The same decoder serves a snapshot and a replay from the stored rows."""
    parley, _, golden = loaded
    engine = create_async_engine(parley.settings().async_database_url)
    bus = MemoryBus()
    await bus.start()
    try:
        live = LiveService(make_sessionmaker(engine), bus, clock=SystemClock())
        state, position = await live.state(golden.event_id)
        assert state == decode_state(golden.final_state["state"], golden.final_state["format"])
        for channel in ("public", "staff"):
            frames = await live.replay(golden.event_id, channel, position.epoch, 0)
            assert frames is not None
            rows = [row for row in golden.event_log if row["channel"] == channel]
            replayed = [parse_server_frame(frame) for frame in frames]
            assert [(f.seq, f.event) for f in replayed] == [  # type: ignore[union-attr]
                (row["seq"], decode_event(row["payload"], row["format"]))
                for row in sorted(rows, key=lambda r: r["seq"])
            ]
    finally:
        await bus.close()
        await engine.dispose()


# -- a record this code cannot read is an error naming the row, never a blank ------------------------------


def test_a_report_over_an_unreadable_event_names_the_row(loaded: tuple[Parley, Engine, Golden]) -> None:
    _, engine, golden = loaded
    with Session(engine) as session, session.begin():
        row = (
            session.execute(
                select(EventLogEntry).where(EventLogEntry.type == "speech.ended").order_by(EventLogEntry.id)
            )
            .scalars()
            .first()
        )
        assert row is not None
        row_id, seq = row.id, row.seq
        row.format = EVENT_FORMAT + 1
    with Session(engine) as session, pytest.raises(UnknownFormat) as raised:
        reports.build(session, golden.event_id, REPORT_SCOPE, now=REPORT_NOW, stale_after=STALE_AFTER)
    assert raised.value.record == event_record(row_id, golden.event_id, "public", seq)
    assert f"event_log row {row_id}" in str(raised.value)


def test_a_report_over_a_state_it_cannot_read_names_the_row(loaded: tuple[Parley, Engine, Golden]) -> None:
    _, engine, golden = loaded
    with Session(engine) as session, session.begin():
        session.execute(update(LiveStateRow).values(state={"public": {}}))
    with Session(engine) as session, pytest.raises(UnreadableRecord, match="live_states row of event"):
        reports.build(session, golden.event_id, REPORT_SCOPE, now=REPORT_NOW, stale_after=STALE_AFTER)


async def test_the_live_service_resyncs_instead_of_replaying_a_row_it_cannot_read(
    loaded: tuple[Parley, Engine, Golden],
) -> None:
    parley, engine, golden = loaded
    with Session(engine) as session, session.begin():
        session.execute(
            update(EventLogEntry).where(EventLogEntry.channel == "public", EventLogEntry.seq == 3).values(format=99)
        )
    aengine = create_async_engine(parley.settings().async_database_url)
    bus = MemoryBus()
    await bus.start()
    try:
        live = LiveService(make_sessionmaker(aengine), bus, clock=SystemClock())
        epoch = golden.final_state["epoch"]
        assert await live.replay(golden.event_id, "public", epoch, 2) is None, "a resync, not a hole"
        assert await live.replay(golden.event_id, "public", epoch, 3) is not None, "rows after it replay"
        with Session(engine) as session, session.begin():
            session.execute(update(LiveStateRow).values(format=STATE_FORMAT + 1))
        with pytest.raises(UnknownFormat, match=f"live_states row of event {golden.event_id}"):
            await live.state(golden.event_id)
    finally:
        await bus.close()
        await aengine.dispose()


# -- lifting older formats ---------------------------------------------------------------------------------


def _unarchived(golden: Golden) -> dict[str, Any]:
    row = next(row for row in golden.event_log if row["type"] == "question.unarchived")
    return copy.deepcopy(row["payload"])


def test_an_older_format_is_lifted_by_its_upcaster_before_validation() -> None:
    """A format-0 ``question.unarchived`` had no ``status``: the upcaster from format 0 adds it."""
    golden = Golden.read(GOLDEN / golden_name())
    current = _unarchived(golden)
    old = {key: value for key, value in current.items() if key != "status"}
    calls: list[dict[str, Any]] = []

    def add_status(payload: dict[str, Any]) -> dict[str, Any]:
        calls.append(payload)
        if payload["type"] == "question.unarchived":
            payload["status"] = "approved"
        return payload

    codec = EVENTS.with_upcasters(EVENTS.current, {0: add_status})
    event = codec.decode(old, 0, record="test row")
    assert isinstance(event, QuestionUnarchived) and event.status == "approved"
    assert event == decode_event(current, EVENT_FORMAT)
    assert "status" not in old, "the stored JSON is never changed in place"
    assert codec.decode(current, EVENT_FORMAT, record="test row") == event and len(calls) == 1, "current: no upcaster"


def test_upcasters_run_in_turn_up_to_the_current_format() -> None:
    """A pretend history: format 1 called the field ``state``, format 2 ``phase``, format 3 (the
    model's) ``status``; a format-1 record goes through both upcasters, in order."""
    current = _unarchived(Golden.read(GOLDEN / golden_name()))
    ran: list[int] = []

    def rename(old: str, new: str, step: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
        def upcast(payload: dict[str, Any]) -> dict[str, Any]:
            ran.append(step)
            payload[new] = payload.pop(old)
            return payload

        return upcast

    history = EVENTS.with_upcasters(3, {1: rename("state", "phase", 1), 2: rename("phase", "status", 2)})
    format_1 = {("state" if key == "status" else key): value for key, value in current.items()}
    assert history.decode(format_1, 1, record="r") == decode_event(current, EVENT_FORMAT)
    assert ran == [1, 2]


def test_a_record_without_an_upcaster_or_too_new_raises_a_typed_error_naming_it() -> None:
    golden = Golden.read(GOLDEN / golden_name())
    payload = _unarchived(golden)
    record = event_record(7, 1, "public", 42)
    with pytest.raises(UnknownFormat) as too_new:
        decode_event(payload, EVENT_FORMAT + 1, record=record)
    assert too_new.value.record == record and too_new.value.stored_format == EVENT_FORMAT + 1
    assert str(too_new.value).startswith(
        f"event_log row 7 (event 1, public seq 42): event record in format {EVENT_FORMAT + 1}"
    )
    with pytest.raises(UnreadableRecord, match="no upcaster from format 0"):
        decode_event(payload, 0, record=record)
    with pytest.raises(UnknownFormat):
        decode_event(payload, "1", record=record)  # type: ignore[arg-type]
    missing = {key: value for key, value in payload.items() if key != "status"}
    with pytest.raises(UnreadableRecord, match=r"question\.unarchived\.status: Field required"):
        decode_event(missing, EVENT_FORMAT, record=record)
    broken = EVENTS.with_upcasters(EVENTS.current, {0: lambda p: p["no such field"]})
    with pytest.raises(UnreadableRecord, match="the upcaster from format 0 failed"):
        broken.decode(payload, 0, record=record)
    with pytest.raises(RecordError, match="live_states row of event 3"):
        STATES.decode({"public": {"segments": 3}, "staff": {}}, STATE_FORMAT, record="live_states row of event 3")


# -- format 1 → 2: persons become references ----------------------------------------------------------------


def test_format_1_persons_are_lifted_to_references() -> None:
    """Format 1 said ``user_id`` for attendees and staff alike: the upcaster tells them apart by the
    record's own facts (an organisation is an attendee's; decisions are staff's; see core.records)."""
    golden = Golden.read(GOLDEN / "format-1")
    rows = {row["type"]: row for row in reversed(golden.event_log)}  # the first row of each type
    entry = decode_event(rows["floor.requested"]["payload"], 1).entry  # type: ignore[union-attr]
    assert (entry.who, rows["floor.requested"]["actor"]) == ("attendee:1", "a:1")
    asked = decode_event(rows["question.asked"]["payload"], 1).question  # type: ignore[union-attr]
    assert asked.asker.who == f"attendee:{rows['question.asked']['actor'][2:]}"
    approved = decode_event(rows["question.approved"]["payload"], 1)
    assert approved.by in (None, f"staff:{rows['question.approved']['actor'][2:]}")  # type: ignore[union-attr]
    dismissed = decode_event(rows["question.dismissed"]["payload"], 1)
    assert dismissed.by == dismissed.question.dismissed_by == "staff:1"  # type: ignore[union-attr]
    state = decode_state(golden.final_state["state"], 1)
    assert {facts.approved_by for facts in state.staff.provenance.values()} <= {None, "staff:1"}
    # every actor of a lifted entry or question is the one the event log's actor column names
    for row in golden.event_log:
        event = decode_event(row["payload"], row["format"])
        if isinstance(event, FloorRequested):
            assert event.entry.who == "attendee:" + row["actor"][2:] and row["actor"].startswith("a:")


def test_a_format_1_person_without_an_organisation_is_taken_for_staff() -> None:
    """The one case the record cannot decide: staff is the side that shows nobody anything new."""
    entry = {
        "id": 1,
        "user_id": 3,
        "name": "Mo",
        "organisation": None,
        "on_behalf_of": None,
        "topic": None,
        "point_of_order": False,
        "requested_at": "2022-02-28T14:41:05Z",
    }
    lifted = decode_event({"type": "floor.requested", "entry": entry, "position": 0}, 1)
    assert lifted.entry.who == "staff:3"  # type: ignore[union-attr]
    lifted = decode_event({"type": "floor.requested", "entry": {**entry, "organisation": "CBC"}, "position": 0}, 1)
    assert lifted.entry.who == "attendee:3"  # type: ignore[union-attr]


# -- the migration -------------------------------------------------------------------------------------------


def test_rows_stored_before_the_format_column_are_format_1_and_new_rows_must_say_theirs(parley: Parley) -> None:
    golden = Golden.read(GOLDEN / "format-1")
    log, state = golden.event_log[0], golden.final_state
    engine = create_engine(parley.settings().sync_database_url)
    try:
        migrate.downgrade(engine, "0003")
        with Session(engine) as session, session.begin():
            for name in ("events", "days", "segments"):
                insert_rows(session, name, golden.database[name])
            insert_rows(session, "event_log", [without_format(log)])
            insert_rows(session, "live_states", [without_format(state)])
        migrate.upgrade(engine)
        with Session(engine) as session:
            assert session.execute(select(EventLogEntry.format)).scalars().all() == [1]
            assert session.execute(select(LiveStateRow.format)).scalars().all() == [1]
        with pytest.raises(IntegrityError), Session(engine) as session, session.begin():
            insert_rows(session, "event_log", [{**without_format(log), "id": 99, "seq": 99}])
    finally:
        engine.dispose()


def without_format(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key != "format"}


def test_the_report_scan_goes_on_past_an_event_whose_records_it_cannot_read(
    loaded: tuple[Parley, Engine, Golden], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _, engine, golden = loaded
    with Session(engine) as session, session.begin():
        session.execute(update(EventLogEntry).where(EventLogEntry.type == "speech.ended").values(format=99))
    assert reports.scan_due(engine, tmp_path, now=REPORT_NOW, stale_after=STALE_AFTER) == [], (
        "nothing compiled, nothing raised"
    )
    assert "event_log row" in caplog.text and "not compiled" in caplog.text
    with Session(engine) as session, session.begin():
        session.execute(update(LiveStateRow).values(format=99))
    assert reports.scan_due(engine, tmp_path, now=REPORT_NOW, stale_after=STALE_AFTER) == []
    assert "live_states row of event" in caplog.text
    with Session(engine) as session, session.begin():  # back to the formats the folder's rows were written in
        session.execute(update(LiveStateRow).values(format=golden.final_state["format"]))
        for row in golden.event_log:
            session.execute(update(EventLogEntry).where(EventLogEntry.id == row["id"]).values(format=row["format"]))
    assert [done.scope for done in reports.scan_due(engine, tmp_path, now=REPORT_NOW, stale_after=STALE_AFTER)] == [
        REPORT_SCOPE
    ]
