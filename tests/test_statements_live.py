"""Written statements through a real server and real websocket clients: who may write, who sees what."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.live import LiveClient, register, staff_token
from tests.fixtures.parley import LIVE_ENV, Parley, ServerProcess

pytestmark = pytest.mark.anyio


@pytest.fixture()
def statement_server(sqlite_parley: Parley) -> Iterator[ServerProcess]:
    """`parley serve` in the embedded mode, with statements of at most 300 characters."""
    proc = ServerProcess(sqlite_parley, PARLEY_STATEMENT_MAX_CHARS="300", **LIVE_ENV)
    yield proc
    proc.stop()


async def test_delegations_left_waiting_write_moderators_decide_everyone_reads(
    statement_server: ServerProcess,
) -> None:
    server = statement_server
    moderator = LiveClient(server, staff_token(server, "moderator"))
    organiser = LiveClient(server, staff_token(server, "organiser"))
    ana = LiveClient(server, register(server, "Ana Silva", organisation="Mission of Brazil"))
    ben = LiveClient(server, register(server, "Ben Okafor", category="civil_society"))
    cy = LiveClient(server, register(server, "Cy Reader", category="media"))
    snapshot = await moderator.connect()
    panel = next(s for s in snapshot["public"]["segments"] if s["key"] == "d1-panel-1")
    await organiser.connect()
    for client in (ana, ben, cy):
        joined = await client.connect()
        assert joined["public"]["statements"]["deadline"] == {"after_s": 86400, "until": None}

    # the panel ends with Ana and Ben still waiting for the floor: both may write, Cy may not
    await moderator.ok("segment.open", segment_id=panel["id"])
    await ana.ok("floor.request", on_behalf_of="Brazil")
    await ben.ok("floor.request")
    await moderator.ok("segment.end", segment_id=panel["id"])
    opened = (await cy.expect("event", event="statements.opened"))["event"]["window"]
    assert opened["segment_id"] == panel["id"]
    assert [(a["name"], a["on_behalf_of"]) for a in opened["eligible"]] == [
        ("Ana Silva", "Brazil"),
        ("Ben Okafor", None),
    ]

    def submit(client: LiveClient, text: str, language: str = "fr", segment_id: int = panel["id"]):  # type: ignore[no-untyped-def]
        return client.command("statement.submit", segment_id=segment_id, language=language, text=text)

    refused = await submit(cy, "Je voudrais écrire aussi.")
    assert (refused["type"], refused["code"]) == ("error", "not_eligible")
    assert (await submit(ana, "x" * 301))["code"] == "invalid", "PARLEY_STATEMENT_MAX_CHARS is the limit"
    assert (await submit(ana, "x" * 10_001))["code"] == "invalid", "the wire's own limit"
    assert (await submit(ana, "Brasilien unterstützt.", "de"))["code"] == "invalid", "not a language of the event"

    # Ana writes in French: only the staff see it pending
    first = await submit(ana, "Le Brésil soutient le pacte.")
    statement_id = first["data"]["statement_id"]
    pending = await moderator.expect("event", event="statement.submitted")
    assert pending["channel"] == "staff"
    assert pending["event"]["statement"]["author"]["organisation"] == "Mission of Brazil"
    assert (await ana.command("statement.approve", statement_id=statement_id))["code"] == "forbidden"

    # rejected with a reason: Ana's next snapshot tells her why; she writes again under the same id
    await moderator.ok("statement.reject", statement_id=statement_id, reason="Merci de préciser.")
    await ana.close()
    again = LiveClient(server, ana.token)
    mine = (await again.connect())["me"]["statements"]
    assert [(s["id"], s["status"], s["reason"]) for s in mine] == [(statement_id, "rejected", "Merci de préciser.")]
    second = await submit(again, "Le Brésil soutient le pacte et demande des voies sûres.")
    assert second["data"]["statement_id"] == statement_id

    # approved: everyone gets it on the public channel, in the language it was written in
    await moderator.ok("statement.approve", statement_id=statement_id)
    published = (await cy.expect("event", event="statement.published"))["event"]["statement"]
    assert (published["id"], published["language"], published["author"]["name"]) == (statement_id, "fr", "Ana Silva")
    assert published["text"] == "Le Brésil soutient le pacte et demande des voies sûres."
    assert (await submit(again, "Une autre version."))["code"] == "invalid_transition"
    for client in (ben, cy):
        assert not [f for f in client.frames if f.get("channel") == "staff"], "nothing staff-only reached attendees"

    # the deadline is the organiser's: a moderator may not move it; once passed, Ben cannot write
    assert (await moderator.command("statements.set_deadline", after_s=3600))["code"] == "forbidden"
    await organiser.ok("statements.set_deadline", until="2020-01-01T00:00:00Z")
    moved = await ben.expect("event", event="statements.deadline_set")
    assert moved["event"]["deadline"] == {"after_s": None, "until": "2020-01-01T00:00:00Z"}
    assert (await submit(ben, "We support the compact.", "en"))["code"] == "deadline_passed"
    await organiser.ok("statements.set_deadline", after_s=3600)
    assert (await submit(ben, "We support the compact.", "en"))["type"] == "result"

    late = LiveClient(server, cy.token)
    board = (await late.connect())["public"]["statements"]
    assert [s["id"] for s in board["published"]] == [statement_id]
    assert board["deadline"] == {"after_s": 3600, "until": None}
    for client in (moderator, organiser, again, ben, cy, late):
        await client.close()
