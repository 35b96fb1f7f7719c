"""A whole panel through real servers and real websocket clients.

Embedded: one server on SQLite with the in-process bus. Production: two server processes on one
PostgreSQL and one Redis; the moderator is on one, the attendees on the other.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import create_engine, text

from tests.fixtures.live import LiveClient, register, staff_token
from tests.fixtures.parley import ServerProcess

pytestmark = pytest.mark.anyio

BOTH_MODES = pytest.mark.parametrize("live_servers", ["embedded", "production"], indirect=True)


def events(client: LiveClient, type_: str) -> list[dict]:
    return [f for f in client.frames if f["type"] == "event" and f["event"]["type"] == type_]


def presence_rows(server: ServerProcess, name: str) -> list[tuple]:
    engine = create_engine(server.parley.settings().sync_database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT p.started_at, p.ended_at FROM presences p JOIN registrations r ON r.id = p.registration_id "
                "WHERE r.name = :name ORDER BY p.id"
            ),
            {"name": name},
        ).all()
    engine.dispose()
    return [tuple(r) for r in rows]


@BOTH_MODES
async def test_a_whole_panel(live_servers: list[ServerProcess]) -> None:
    first, last = live_servers[0], live_servers[-1]
    moderator = LiveClient(first, staff_token(first, "moderator"))
    ana = LiveClient(last, register(last, "Ana Silva", organisation="Brazil"))
    ben = LiveClient(last, register(last, "Ben Okafor", category="civil_society"))
    snapshot = await moderator.connect()
    assert snapshot["staff"] is not None and snapshot["me"]["role"] == "moderator"
    panel = next(s for s in snapshot["public"]["segments"] if s["key"] == "d1-panel-1")
    speakers = [p for p in panel["people"] if p["role"] == "speaker"]
    ana_snapshot = await ana.connect()
    assert ana_snapshot["staff"] is None, "the staff view never reaches an attendee"
    await ben.connect()

    # the moderator opens the panel; everyone sees it live
    await moderator.ok("segment.open", segment_id=panel["id"])
    for client in (ana, ben):
        opened = await client.expect("event", event="segment.opened")
        assert opened["event"]["segment_id"] == panel["id"]

    # a panellist from the programme gets the floor first
    granted = await moderator.ok("floor.grant", person_id=speakers[0]["id"])
    started = await ben.expect("event", event="speech.started")
    assert started["event"]["speech"]["speaker_name"] == speakers[0]["name"]
    assert granted["data"]["speech_id"] == started["event"]["speech"]["id"]

    # two delegations ask for the floor; a point of order goes first
    ana_entry = (await ana.ok("floor.request", topic="Search and rescue", on_behalf_of="Brazil"))["data"]
    assert ana_entry["position"] == 0
    ben_entry = (await ben.ok("floor.request", point_of_order=True))["data"]
    assert ben_entry["position"] == 0
    again = await ana.command("floor.request")
    assert again["type"] == "error" and again["code"] == "already_waiting"
    queued = await moderator.expect("event", event="floor.requested")
    assert queued["event"]["entry"]["name"] == "Ana Silva"

    # the moderator grants the head of the queue (the point of order); the panellist's speech ends
    await moderator.ok("floor.grant", entry_id=ben_entry["entry_id"])
    ended = await ana.expect("event", event="speech.ended")
    assert ended["event"]["speech"]["person_id"] == speakers[0]["id"]
    assert (await ana.expect("event", event="speech.started"))["event"]["speech"]["person_id"] == speakers[0]["id"]
    speech = (await ana.expect("event", event="speech.started"))["event"]["speech"]
    assert speech["speaker_name"] == "Ben Okafor" and speech["limit_s"] == 180
    await moderator.ok("speech.pause")
    await moderator.ok("speech.resume")
    await moderator.ok("speech.end")
    done = await ana.expect("event", event="speech.ended")
    assert done["event"]["duration_s"] >= 0

    # Ana asks a question: pending, seen by moderators only
    asked = await ana.ok("question.ask", text="How do we count the missing?", addressed_to=speakers[1]["id"])
    question_id = asked["data"]["question_id"]
    assert asked["data"]["published"] is False, "the asker is told it awaits moderation"
    pending = await moderator.expect("event", event="question.asked")
    assert pending["channel"] == "staff" and pending["event"]["question"]["asker"]["name"] == "Ana Silva"
    await moderator.ok("question.approve", question_id=question_id, text="How do we count missing migrants?")
    published = await ben.expect("event", event="question.published")
    assert published["event"]["question"]["text"] == "How do we count missing migrants?"
    assert published["event"]["question"]["addressed_to"] == speakers[1]["id"]
    assert not [f for f in ben.frames if f.get("channel") == "staff"], "nothing of the staff channel reached Ben"

    # Ben votes; the coalesced total reaches everyone
    await ben.ok("question.vote", question_id=question_id, up=True)
    await ben.ok("question.vote", question_id=question_id, up=True)  # the same wish again changes nothing
    votes = await ana.expect("event", event="question.votes_updated")
    assert votes["event"]["counts"] == {str(question_id): 1}
    await moderator.ok("question.highlight", question_id=question_id)
    await ana.expect("event", event="question.highlighted")
    await moderator.ok("question.answer", question_id=question_id)
    await ana.expect("event", event="question.answered")

    # Ana leaves; while she is away a notice is posted; she comes back with her last positions
    last_seq = max(f["seq"] for f in ana.frames if f["type"] == "event")
    epoch = ana_snapshot["channels"]["public"]["epoch"]
    await ana.close()
    await moderator.ok("notice.set", text="The next panel starts at 10:47")
    await moderator.ok("queue.close")
    returning = LiveClient(last, ana.token)
    await returning.connect(epoch=epoch, public=last_seq)
    missed = [await returning.expect("event", event="notice.posted"), await returning.expect("event")]
    assert [m["seq"] for m in missed] == [last_seq + 1, last_seq + 2]
    assert missed[1]["event"]["type"] == "queue.closed"
    assert not [f for f in returning.frames if f["type"] == "snapshot"], "replayed, not resynced"
    await returning.ok("floor.withdraw")
    refused = await returning.command("floor.request")
    assert refused["type"] == "error" and refused["code"] == "list_closed"

    # the moderator ends the segment: everyone sees it, the same seq on every server
    await moderator.ok("segment.end", segment_id=panel["id"])
    mod_end = await moderator.expect("event", event="segment.ended")
    ben_end = await ben.expect("event", event="segment.ended")
    assert (mod_end["epoch"], mod_end["seq"]) == (ben_end["epoch"], ben_end["seq"])

    # a late joiner's snapshot is what the others built from events
    late = LiveClient(last, register(last, "Chen Wei"))
    late_snapshot = await late.connect()
    ended_segment = next(s for s in late_snapshot["public"]["segments"] if s["id"] == panel["id"])
    assert ended_segment["status"] == "ended"
    assert late_snapshot["public"]["stage"]["notice"]["text"] == "The next panel starts at 10:47"
    [question] = late_snapshot["public"]["questions"]
    assert question["status"] == "answered" and question["votes"] == 1
    assert late_snapshot["channels"]["public"]["seq"] == ben_end["seq"]
    for client in (moderator, ben, returning, late):
        await client.close()

    # Ana was present twice: one closed interval per connection
    for _ in range(50):
        intervals = presence_rows(last, "Ana Silva")
        if len(intervals) == 2 and all(end is not None for _, end in intervals):
            break
        await asyncio.sleep(0.1)
    assert len(intervals) == 2 and all(end is not None and end >= start for start, end in intervals), intervals


@BOTH_MODES
async def test_reconnecting_with_a_lost_epoch_resyncs(live_servers: list[ServerProcess]) -> None:
    server = live_servers[-1]
    client = LiveClient(server, register(server, "Dana Roy"))
    await client.connect(epoch="not-the-epoch", public=3)
    resync = await client.expect("resync")
    assert resync["reason"] == "epoch_changed"
    snapshot = await client.expect("snapshot")
    assert snapshot["me"]["display_name"] == "Dana Roy"
    await client.close()


@BOTH_MODES
async def test_heartbeats_carry_the_current_seq(live_servers: list[ServerProcess]) -> None:
    moderator = LiveClient(live_servers[0], staff_token(live_servers[0], "moderator"))
    attendee = LiveClient(live_servers[-1], register(live_servers[-1], "Eve Martin"))
    snap = await moderator.connect()
    await attendee.connect()
    await moderator.ok("notice.set", text="Welcome")
    posted = await attendee.expect("event", event="notice.posted")
    beat = await attendee.expect("heartbeat", timeout=5)
    while attendee.frames.index(beat) < attendee.frames.index(posted):  # one that came before the event
        beat = await attendee.expect("heartbeat", timeout=5)
    assert beat["seqs"]["public"] == posted["seq"] and beat["seqs"]["staff"] is None
    staff_beat = await moderator.expect("heartbeat", timeout=5)
    assert staff_beat["seqs"]["staff"] == snap["channels"]["staff"]["seq"] or staff_beat["seqs"]["staff"] >= 0
    for c in (moderator, attendee):
        await c.close()


async def fold_until(client: LiveClient, snapshot: dict, until: dict[str, int]) -> tuple[dict, dict | None]:
    """Apply, with the core's own rules, every event ``client`` received after ``snapshot`` (reading
    more until each channel reaches ``until``): what a browser's store does."""
    from server.core.apply import apply_public, apply_staff
    from server.protocol import PublicState, StaffState
    from server.protocol.frames import EventFrame

    public = PublicState.model_validate(snapshot["public"])
    staff = StaffState.model_validate(snapshot["staff"]) if snapshot["staff"] is not None else None
    cursor = {name: pos["seq"] for name, pos in snapshot["channels"].items() if pos is not None}
    start = client.frames.index(snapshot) + 1 if snapshot in client.frames else 0
    pending = list(client.frames[start:])
    while True:
        for frame in pending:
            if frame["type"] != "event" or frame["seq"] <= cursor[frame["channel"]]:
                continue
            assert frame["seq"] == cursor[frame["channel"]] + 1, "events arrive in order, without gaps"
            event = EventFrame.model_validate(frame).event
            if frame["channel"] == "public":
                public = apply_public(public, event)
            else:
                assert staff is not None
                staff = apply_staff(staff, event)
            cursor[frame["channel"]] = frame["seq"]
        if all(cursor.get(ch, 0) >= seq for ch, seq in until.items()):
            break
        pending = [await client.recv()]
    return public.model_dump(mode="json"), staff.model_dump(mode="json") if staff is not None else None


@BOTH_MODES
async def test_folding_the_live_events_gives_a_fresh_snapshot(live_servers: list[ServerProcess]) -> None:
    """Zulip's test, end to end: what every client built from events equals a fresh snapshot."""
    first, last = live_servers[0], live_servers[-1]
    moderator = LiveClient(first, staff_token(first, "moderator"))
    mod_snapshot = await moderator.connect()
    zoe = LiveClient(last, register(last, "Zoe Adams", category="un_system"))
    zoe_snapshot = await zoe.connect()
    yan = LiveClient(last, register(last, "Yan Li", category="academia"))
    await yan.connect()
    segment = mod_snapshot["public"]["segments"][0]
    await moderator.ok("segment.open", segment_id=segment["id"])
    await moderator.expect("event", event="segment.opened")
    q = (await zoe.ok("question.ask", text="First question", anonymous=True))["data"]["question_id"]
    entry = (await yan.ok("floor.request", topic="Data"))["data"]["entry_id"]
    await moderator.ok("question.approve", question_id=q)
    await yan.ok("question.vote", question_id=q, up=True)
    await moderator.ok("floor.grant", entry_id=entry)
    await moderator.ok("speech.set_limit", seconds=240)
    await moderator.ok("qa.set_moderation", enabled=False)
    at_once = await zoe.ok("question.ask", text="Published at once")
    assert at_once["data"]["published"] is True, "the asker is told it is published"
    await moderator.ok("question.highlight", question_id=q)
    await moderator.ok("notice.set", text="Five minutes left")
    await moderator.expect("event", event="question.votes_updated")
    counts = await moderator.expect("event", event="presence.counts_updated")
    assert counts["event"]["online"] >= 1

    fresh_staff = await LiveClient(first, moderator.token).connect()
    fresh_attendee = await LiveClient(last, zoe.token).connect()
    until = {"public": fresh_staff["channels"]["public"]["seq"], "staff": fresh_staff["channels"]["staff"]["seq"]}
    public, staff = await fold_until(moderator, mod_snapshot, until)
    assert public == fresh_staff["public"]
    assert staff == fresh_staff["staff"]
    attendee_public, _ = await fold_until(zoe, zoe_snapshot, {"public": fresh_attendee["channels"]["public"]["seq"]})
    assert attendee_public == fresh_attendee["public"]
    anonymous = next(x for x in attendee_public["questions"] if x["id"] == q)
    assert anonymous["asker_name"] is None, "an anonymous asker is not named to attendees"
    for c in (moderator, zoe, yan):
        await c.close()


async def test_moderators_see_who_is_online_by_category(live_servers: list[ServerProcess]) -> None:
    server = live_servers[0]
    moderator = LiveClient(server, staff_token(server, "moderator"))
    await moderator.connect()
    a = LiveClient(server, register(server, "Ada Byron", category="member_state"))
    b = LiveClient(server, register(server, "Bo Jensen", category="media"))
    await a.connect()
    await b.connect()
    second_tab = LiveClient(server, a.token)
    await second_tab.connect()
    while True:
        counts = (await moderator.expect("event", event="presence.counts_updated"))["event"]
        if counts["online"] == 2:
            break
    assert counts["by_category"] == {"member_state": 1, "media": 1}, "two tabs are one person"
    assert counts["peak_today"] >= 2
    await b.close()
    while True:
        counts = (await moderator.expect("event", event="presence.counts_updated"))["event"]
        if counts["online"] == 1:
            break
    assert counts["peak_today"] >= 2
    for c in (moderator, a, second_tab):
        await c.close()


async def test_a_crashed_server_leaves_no_interval_open(live_servers: list[ServerProcess]) -> None:
    import os
    import signal
    import time

    from sqlalchemy.orm import Session

    from server.adapters.db.models import Presence

    server = live_servers[0]
    attendee = LiveClient(server, register(server, "Raj Patel"))
    await attendee.connect()
    await asyncio.sleep(1.2)  # a couple of heartbeats are answered and written
    os.kill(server.proc.pid, signal.SIGKILL)
    killed_at = time.time()
    server.proc.wait()
    restarted = ServerProcess(server.parley)
    try:
        engine = create_engine(server.parley.settings().sync_database_url)
        for _ in range(150):
            with Session(engine) as session:
                row = session.query(Presence).one()
                if row.ended_at is not None:
                    break
            await asyncio.sleep(0.1)
        engine.dispose()
    finally:
        restarted.stop()
    assert row.ended_at is not None, "the sweep closes what the crashed server left open"
    assert row.ended_at == row.last_seen_at, "at its last heartbeat"
    assert row.ended_at.timestamp() <= killed_at
    assert row.ended_at > row.started_at


@BOTH_MODES
async def test_an_attendee_and_a_moderator_with_the_same_number_are_two_people(
    live_servers: list[ServerProcess],
) -> None:
    """Registrations and staff accounts are numbered apart: the demo moderator is staff account 2,
    and so the second attendee to register is registration 2. Each one's entry, speech and
    question is attributed to them, in the events and in a fresh snapshot."""
    first, last = live_servers[0], live_servers[-1]
    moderator = LiveClient(first, staff_token(first, "moderator"))
    snapshot = await moderator.connect()
    staff_who = snapshot["me"]["who"]
    assert staff_who.startswith("staff:"), staff_who
    number = int(staff_who.removeprefix("staff:"))
    twin = None
    for n in range(1, number + 1):  # registration ids are given in order on a fresh database
        candidate = LiveClient(last, register(last, f"Twin {n}", organisation="Ruritania"))
        if (await candidate.connect())["me"]["who"] == f"attendee:{number}":
            twin = candidate
            break
        await candidate.close()
    assert twin is not None, f"no registration {number}"

    panel = next(s for s in snapshot["public"]["segments"] if s["key"] == "d1-panel-1")
    await moderator.ok("segment.open", segment_id=panel["id"])
    twin_entry = (await twin.ok("floor.request", topic="Funding"))["data"]["entry_id"]
    mod_entry = (await moderator.ok("floor.request", topic="Procedure"))["data"]["entry_id"]
    requested = [(await moderator.expect("event", event="floor.requested"))["event"]["entry"] for _ in range(2)]
    assert [(e["id"], e["who"]) for e in requested] == [(twin_entry, f"attendee:{number}"), (mod_entry, staff_who)]
    twin_question = (await twin.ok("question.ask", text="The attendee's question?"))["data"]["question_id"]
    mod_question = (await moderator.ok("question.ask", text="The moderator's question?"))["data"]["question_id"]
    await moderator.ok("question.approve", question_id=twin_question)
    approved = await moderator.expect("event", event="question.approved")
    assert approved["event"]["by"] == staff_who
    await moderator.ok("floor.grant", entry_id=mod_entry)
    speech = (await twin.expect("event", event="speech.started"))["event"]["speech"]
    assert (speech["who"], speech["entry_id"], speech["speaker_name"]) == (staff_who, mod_entry, "Demo moderator")

    for client in (moderator, twin):
        await client.close()
    fresh_mod = await LiveClient(first, moderator.token).connect()
    fresh_twin = await LiveClient(last, twin.token).connect()
    assert fresh_mod["me"]["who"] == staff_who and fresh_twin["me"]["who"] == f"attendee:{number}"
    assert fresh_mod["me"]["waiting_entry_id"] is None, "the moderator's entry became the speech"
    assert fresh_twin["me"]["waiting_entry_id"] == twin_entry
    assert [q["id"] for q in fresh_mod["me"]["questions"]] == [mod_question]
    assert [q["id"] for q in fresh_twin["me"]["questions"]] == [twin_question]
    assert fresh_twin["public"]["stage"]["speech"]["who"] == staff_who
    assert [e["who"] for e in fresh_twin["public"]["queue"]["waiting"]] == [f"attendee:{number}"]
    staff = fresh_mod["staff"]
    assert [(q["id"], q["asker"]["who"]) for q in staff["questions"]] == [(mod_question, staff_who)]
    facts = staff["provenance"][str(twin_question)]
    assert (facts["asker"]["who"], facts["approved_by"]) == (f"attendee:{number}", staff_who)
