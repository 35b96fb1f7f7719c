"""The speaking order by category through a real server and real websockets: the organiser's order
of categories, the moderator's switch, attendees placed by category, and a fresh snapshot that
agrees with the events."""

from __future__ import annotations

import httpx
import pytest

from tests.fixtures.live import LiveClient, register, staff_token
from tests.fixtures.parley import ServerProcess

pytestmark = pytest.mark.anyio


def names(public: dict) -> list[str]:
    return [entry["name"] for entry in public["queue"]["waiting"]]


@pytest.mark.parametrize("live_servers", ["embedded"], indirect=True)
async def test_the_list_by_category_follows_the_organisers_order(live_servers: list[ServerProcess]) -> None:
    server = live_servers[0]
    organiser = staff_token(server, "organiser")
    url = f"{server.url}/api/events/idm-2022-1/speaking-order"
    auth = {"Authorization": f"Bearer {organiser}"}

    default = httpx.get(url, headers=auth)
    assert default.status_code == 200
    assert default.json()["categories"] == ["member_state", "intergovernmental", "un_system", "civil_society"]
    assert default.json()["default"] is True
    refused = httpx.put(url, headers=auth, json={"categories": ["civil_society", "states"]})
    assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
    assert "unknown category 'states'" in refused.json()["detail"]
    chosen = httpx.put(url, headers=auth, json={"categories": ["civil_society", "member_state"]})
    assert chosen.status_code == 200, chosen.text
    assert chosen.json() == {
        "categories": ["civil_society", "member_state"],
        "default": False,
        "known": ["member_state", "un_system", "intergovernmental", "civil_society", "academia", "media", "other"],
    }

    moderator_token = staff_token(server, "moderator")  # a sign-in link works once
    moderator = LiveClient(server, moderator_token)
    ana = LiveClient(server, register(server, "Ana Silva", organisation="Brazil"))
    ben = LiveClient(server, register(server, "Ben Okafor", category="civil_society"))
    chen = LiveClient(server, register(server, "Chen Wei", category="academia"))
    snapshot = await moderator.connect()
    assert snapshot["public"]["queue"]["order"] == "request"
    panel = next(s for s in snapshot["public"]["segments"] if s["key"] == "d1-panel-1")
    for client in (ana, ben, chen):
        await client.connect()
    try:
        await moderator.ok("segment.open", segment_id=panel["id"])
        await chen.ok("floor.request")
        await ana.ok("floor.request")
        refused_frame = await ana.command("queue.set_order", order="category")
        assert (refused_frame["type"], refused_frame["code"]) == ("error", "forbidden")

        await moderator.ok("queue.set_order", order="category")
        order_set = await ben.expect("event", event="queue.order_set")
        assert order_set["event"]["order"] == "category"
        await ben.expect("event", event="queue.reordered")
        # the organiser's order: civil society, then Member States, then the rest
        await ben.ok("floor.request", topic="Counting the missing")
        requested = await chen.expect("event", event="floor.requested")
        while requested["event"]["entry"]["name"] != "Ben Okafor":
            requested = await chen.expect("event", event="floor.requested")
        assert requested["event"]["entry"]["category"] == "civil_society"
        assert requested["event"]["position"] == 0

        fresh = LiveClient(server, moderator_token)
        again = await fresh.connect()
        await fresh.close()
        assert again["public"]["queue"]["order"] == "category"
        assert names(again["public"]) == ["Ben Okafor", "Ana Silva", "Chen Wei"]
        assert [e["category"] for e in again["public"]["queue"]["waiting"]] == [
            "civil_society",
            "member_state",
            "academia",
        ]

        await moderator.ok("queue.set_order", order="request")
        back = LiveClient(server, register(server, "Dana Roy", category="media"))
        snap = await back.connect()
        await back.close()
        assert snap["public"]["queue"]["order"] == "request"
        assert names(snap["public"]) == ["Chen Wei", "Ana Silva", "Ben Okafor"]
    finally:
        for client in (moderator, ana, ben, chen):
            await client.close()
