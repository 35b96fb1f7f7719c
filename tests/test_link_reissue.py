"""A new join link for a leaked one ends the old link's sessions, on a real server with real websockets."""

from __future__ import annotations

import httpx
import pytest

from tests.fixtures.live import LiveClient, staff_token
from tests.fixtures.parley import ServerProcess

pytestmark = pytest.mark.anyio


def join(server: ServerProcess, link: str) -> httpx.Response:
    return httpx.post(f"{server.url}/api/join", json={"token": link.rsplit("/", 1)[1]})


@pytest.mark.parametrize("live_servers", ["embedded"], indirect=True)
async def test_a_new_link_ends_the_old_links_sessions(live_servers: list[ServerProcess]) -> None:
    server = live_servers[0]
    body = {"name": "Lena Berg", "email": "lena.berg@example.org", "category": "academia"}
    registered = httpx.post(f"{server.url}/api/events/idm-2022-1/registrations", json=body)
    assert registered.status_code == 201
    old_link = registered.json()["join_url"]
    # the attendee joins with the link, and so does whoever found the leaked copy
    sockets = []
    for _ in range(2):
        joined = join(server, old_link)
        assert joined.status_code == 200
        client = LiveClient(server, joined.json()["session_token"])
        await client.connect()
        sockets.append(client)

    bearer = {"Authorization": f"Bearer {staff_token(server, 'organiser')}"}
    async with httpx.AsyncClient(base_url=server.url, headers=bearer) as organiser:
        listed = await organiser.get("/api/events/idm-2022-1/registrations", params={"q": "berg"})
        reg = listed.json()["registrations"][0]
        fresh = await organiser.post(f"/api/events/idm-2022-1/registrations/{reg['id']}/link")
    assert fresh.status_code == 200

    for client in sockets:
        assert await client.closed(timeout=10) == 4401, "the old link's sockets close as signed out"
        me = httpx.get(f"{server.url}/api/me", headers={"Authorization": f"Bearer {client.token}"})
        assert me.status_code == 401, "the old link's sessions have ended"
    again = join(server, old_link)
    assert again.status_code == 401 and again.json()["code"] == "revoked_link"

    joined = join(server, fresh.json()["join_url"])
    assert joined.status_code == 200, "the new link works"
    snapshot = await LiveClient(server, joined.json()["session_token"]).connect()
    assert snapshot["me"]["role"] == "attendee"
    assert reg["revoked"] is False
