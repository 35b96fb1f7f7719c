"""Polls through real servers and real websocket clients (production: two servers on one PostgreSQL
and one Redis; the moderator on one, the attendees on the other)."""

from __future__ import annotations

import pytest

from tests.fixtures.live import LiveClient, register, staff_token
from tests.fixtures.parley import ServerProcess
from tests.test_live_e2e import fold_until

pytestmark = pytest.mark.anyio


def staff_frames(client: LiveClient) -> list[dict]:
    return [f for f in client.frames if f.get("channel") == "staff"]


def event_types(client: LiveClient) -> list[str]:
    return [f["event"]["type"] for f in client.frames if f["type"] == "event"]


@pytest.mark.parametrize("live_servers", ["production"], indirect=True)
async def test_a_poll_from_preparation_to_published_results(live_servers: list[ServerProcess]) -> None:
    first, last = live_servers[0], live_servers[-1]
    moderator = LiveClient(first, staff_token(first, "moderator"))
    mod_snapshot = await moderator.connect()
    ana = LiveClient(last, register(last, "Ana Silva", organisation="Brazil"))
    ben = LiveClient(last, register(last, "Ben Okafor", category="civil_society"))
    ana_snapshot = await ana.connect()
    await ben.connect()
    panel = next(s for s in mod_snapshot["public"]["segments"] if s["key"] == "d1-panel-1")
    await moderator.ok("segment.open", segment_id=panel["id"])

    # prepared: a staff-only draft; bad polls are refused as invalid frames
    bad = await moderator.command("poll.prepare", segment_id=panel["id"], question="Q?", options=["Yes", "yes"])
    assert (bad["type"], bad["code"]) == ("error", "invalid")
    prepared = await moderator.ok(
        "poll.prepare", segment_id=panel["id"], question="Meet twice a year?", options=["Yes", "No", "Abstain"]
    )
    poll_id = prepared["data"]["poll_id"]
    draft = await moderator.expect("event", event="poll.prepared")
    assert draft["channel"] == "staff" and draft["event"]["poll"]["anonymous"] is True
    forbidden = await ana.command("poll.open", poll_id=poll_id)
    assert (forbidden["type"], forbidden["code"]) == ("error", "forbidden")

    # opened: everyone sees the question, not the counts
    await moderator.ok("poll.open", poll_id=poll_id)
    opened = await ana.expect("event", event="poll.opened")
    assert opened["event"]["poll"]["question"] == "Meet twice a year?" and opened["event"]["poll"]["results"] is None

    # ballots: attendees only, checked, one per attendee, replaced while open
    staff_vote = await moderator.command("poll.vote", poll_id=poll_id, option_ids=[1])
    assert staff_vote["code"] == "forbidden"
    two = await ana.command("poll.vote", poll_id=poll_id, option_ids=[1, 2])
    assert two["code"] == "invalid"
    unknown = await ana.command("poll.vote", poll_id=poll_id, option_ids=[4])
    assert unknown["code"] == "not_found"  # the poll has no option 4
    assert (await ana.ok("poll.vote", poll_id=poll_id, option_ids=[2]))["data"] == {"poll_id": poll_id}
    await ben.ok("poll.vote", poll_id=poll_id, option_ids=[2])
    await ana.ok("poll.vote", poll_id=poll_id, option_ids=[1])  # a change of mind
    tally = (await moderator.expect("event", event="poll.tallied"))["event"]
    while tally["counts"] != {"1": 1, "2": 1, "3": 0}:
        tally = (await moderator.expect("event", event="poll.tallied"))["event"]
    assert tally["ballots"] == 2 and tally["named"] == [], "an anonymous tally names nobody"

    # Ana leaves; the moderator publishes while she is away; she resumes and gets it replayed
    last_seq = max(f["seq"] for f in ana.frames if f["type"] == "event")
    await ana.close()
    await moderator.ok("poll.publish", poll_id=poll_id)
    published = (await ben.expect("event", event="poll.results_published"))["event"]
    assert published["results"] == {"ballots": 2, "counts": {"1": 1, "2": 1, "3": 0}}
    back = LiveClient(last, ana.token)
    await back.connect(epoch=ana_snapshot["channels"]["public"]["epoch"], public=last_seq)
    replayed = await back.expect("event", event="poll.results_published")
    assert replayed["seq"] == last_seq + 1 and replayed["event"] == published

    # published results follow the ballots live, exactly at close; no ballot after it
    await ben.ok("poll.vote", poll_id=poll_id, option_ids=[3])
    await moderator.ok("poll.close", poll_id=poll_id)
    await back.expect("event", event="poll.closed")
    late = await back.command("poll.vote", poll_id=poll_id, option_ids=[2])
    assert late["code"] == "invalid_transition"
    fresh = await LiveClient(last, ana.token).connect()
    [poll] = fresh["public"]["polls"]
    assert poll["status"] == "closed" and poll["results"] == {"ballots": 2, "counts": {"1": 1, "2": 0, "3": 1}}
    assert fresh["me"]["ballots"] == {str(poll_id): [1]}, "Ana sees her own ballot after a reconnect"

    # a named poll, kept for the staff: who chose what is staff-only, results never public
    named_id = (
        await moderator.ok(
            "poll.prepare",
            segment_id=panel["id"],
            question="Themes for next year?",
            options=["Data", "Climate", "Labour"],
            choice="multiple",
            anonymous=False,
        )
    )["data"]["poll_id"]
    await moderator.ok("poll.open", poll_id=named_id)
    await back.ok("poll.vote", poll_id=named_id, option_ids=[3, 1])
    await moderator.ok("poll.close", poll_id=named_id)
    exact = [f for f in moderator.frames if f["type"] == "event" and f["event"]["type"] == "poll.tallied"][-1]
    assert exact["event"]["poll_id"] == named_id
    assert exact["event"]["named"] == [
        {"who": fresh["me"]["who"], "name": "Ana Silva", "organisation": "Brazil", "option_ids": [1, 3]}
    ]
    await ben.expect("event", event="poll.closed")
    assert not staff_frames(ben) and not staff_frames(back), "nothing of the staff channel reached an attendee"
    assert "poll.tallied" not in event_types(ben) and "poll.prepared" not in event_types(ben)

    # what the moderator built from events is a fresh snapshot
    again = await LiveClient(first, moderator.token).connect()
    until = {name: pos["seq"] for name, pos in again["channels"].items()}
    public, staff = await fold_until(moderator, mod_snapshot, until)
    assert public == again["public"] and staff == again["staff"]
    for client in (moderator, ben, back):
        await client.close()
