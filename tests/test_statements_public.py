"""The approved written statements over plain HTTP, for visitors who are not signed in
(``GET /api/events/{slug}/statements``), on a real server over SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fixtures.live import LiveClient, register, staff_token
from tests.fixtures.parley import LIVE_ENV, Parley, ServerProcess

pytestmark = pytest.mark.anyio

SLUG = "idm-2022-1"
APPROVED = "Le Brésil soutient le pacte.\nEt demande des voies sûres."
LATER_SEGMENT = "Ghana supports safe and regular pathways."
PENDING = "Still waiting for a moderator."
REJECTED = "Turned down by the moderator."
REASON = "Please be more specific."


@pytest.fixture()
def statement_server(parley: Parley) -> Iterator[ServerProcess]:
    proc = ServerProcess(parley, **LIVE_ENV)
    yield proc
    proc.stop()


def public_get(server: ServerProcess, slug: str = SLUG, **headers: str) -> httpx.Response:
    """Asked as a visitor: no cookie, no token."""
    with httpx.Client(base_url=server.url) as client:
        return client.get(f"/api/events/{slug}/statements", headers=headers)


def as_published(live: dict[str, Any]) -> dict[str, Any]:
    """A statement of the live public channel, cut to what the HTTP document shows of it."""
    author = live["author"]
    return {
        "id": live["id"],
        "segment_id": live["segment_id"],
        "author": {k: author[k] for k in ("name", "organisation", "on_behalf_of")},
        "language": live["language"],
        "text": live["text"],
        "published_at": live["published_at"],
    }


async def test_only_approved_statements_are_public_under_their_segment(statement_server: ServerProcess) -> None:
    server = statement_server
    before = public_get(server)
    assert before.status_code == 200, before.text
    assert before.json() == {"slug": SLUG, "segments": []}
    assert before.headers["cache-control"] == "public, max-age=30"

    unknown = public_get(server, "no-such-event")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert unknown.json()["code"] == "event_not_found"

    moderator = LiveClient(server, staff_token(server, "moderator"))
    segments = {s["key"]: s["id"] for s in (await moderator.connect())["public"]["segments"]}
    first, later = segments["d1-panel-1"], segments["d1-panel-2"]
    kofi = LiveClient(server, register(server, "Kofi Mensah", organisation="Mission of Ghana"))
    ana = LiveClient(server, register(server, "Ana Silva", organisation="Mission of Brazil"))
    ben = LiveClient(server, register(server, "Ben Okafor", category="civil_society"))
    dee = LiveClient(server, register(server, "Dee Ruiz"))
    for client in (kofi, ana, ben, dee):
        await client.connect()

    async def left_waiting(segment_id: int, *clients: LiveClient) -> None:
        await moderator.ok("segment.open", segment_id=segment_id)
        for client in clients:
            await client.ok("floor.request", on_behalf_of="Brazil" if client is ana else None)
        await moderator.ok("segment.end", segment_id=segment_id)
        await moderator.expect("event", event="statements.opened")

    async def submit(client: LiveClient, segment_id: int, text: str, language: str = "en") -> int:
        result = await client.ok("statement.submit", segment_id=segment_id, language=language, text=text)
        return int(result["data"]["statement_id"])

    # the later panel runs first, so its statement has the lower id: segments still come in schedule order
    await left_waiting(later, kofi)
    await moderator.ok("statement.approve", statement_id=await submit(kofi, later, LATER_SEGMENT))
    await left_waiting(first, ana, ben, dee)
    approved = await submit(ana, first, APPROVED, "fr")
    await submit(ben, first, PENDING)
    await moderator.ok("statement.reject", statement_id=await submit(dee, first, REJECTED), reason=REASON)
    await moderator.ok("statement.approve", statement_id=approved)

    answer = public_get(server)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    document = answer.json()
    assert [s["segment_id"] for s in document["segments"]] == [first, later]
    assert [[s["text"] for s in seg["statements"]] for seg in document["segments"]] == [[APPROVED], [LATER_SEGMENT]]
    ana_statement = document["segments"][0]["statements"][0]
    assert ana_statement["id"] == approved
    assert ana_statement["author"] == {
        "name": "Ana Silva",
        "organisation": "Mission of Brazil",
        "on_behalf_of": "Brazil",
    }
    assert ana_statement["language"] == "fr"
    for hidden in (PENDING, REJECTED, REASON, "attendee:", "submitted_at", "status"):
        assert hidden not in answer.text, f"{hidden!r} is not for the public"

    # exactly what the live public channel publishes, cut to what the page shows
    late = LiveClient(server, register(server, "Cy Reader", category="media"))
    live = (await late.connect())["public"]["statements"]["published"]
    flat = [s for seg in document["segments"] for s in seg["statements"]]
    assert sorted(flat, key=lambda s: s["id"]) == [as_published(s) for s in live]

    # the same for someone signed in; cacheable, and revalidated with the ETag
    signed_in = httpx.get(
        f"{server.url}/api/events/{SLUG}/statements", headers={"Authorization": f"Bearer {late.token}"}
    )
    assert signed_in.json() == document
    etag = answer.headers["etag"]
    assert etag != before.headers["etag"], "a publication changes the ETag"
    assert signed_in.headers["etag"] == etag
    unchanged = public_get(server, **{"If-None-Match": f'W/"stale", {etag}'})
    assert (unchanged.status_code, unchanged.content, unchanged.headers["etag"]) == (304, b"", etag)
    assert public_get(server, **{"If-None-Match": before.headers["etag"]}).status_code == 200

    for client in (moderator, kofi, ana, ben, dee, late):
        await client.close()
