"""Bad input, floods, wrong roles and ended sessions on the live websocket: each gets a typed answer
or the proper close, and nobody else's connection or state is harmed."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from server.protocol import ALLOWED_ROLES, ROLES
from tests.fixtures.live import LiveClient, register, staff_token
from tests.fixtures.parley import Parley, ServerProcess

pytestmark = pytest.mark.anyio


async def closed_with(client: LiveClient, timeout: float = 10) -> int | None:
    return await client.closed(timeout)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", "bad_json"),
        ('{"type": "question.teleport", "cid": "x1"}', "unknown_type"),
        ('{"type": "question.ask", "cid": "x2"}', "invalid"),
        ('{"type": "question.ask", "cid": "x3", "text": "hi", "colour": "red"}', "invalid"),
        (json.dumps({"type": "question.ask", "cid": "x4", "text": "x" * 501}), "invalid"),
        ('{"type": "segment.open", "cid": "x5", "segment_id": 1}', "forbidden"),
        ('{"type": "question.approve", "cid": "x6", "question_id": 999}', "forbidden"),
        ('{"type": "question.vote", "cid": "x7", "question_id": 999, "up": true}', "not_found"),
        ('{"type": "floor.request", "cid": "x8"}', "no_live_segment"),
        (b"\x00\x01binary", "bad_json"),
    ],
)
async def test_bad_frames_get_typed_errors_and_the_connection_lives_on(
    live_servers: list[ServerProcess], raw: str | bytes, code: str
) -> None:
    server = live_servers[0]
    attendee = LiveClient(server, register(server, "Fatou Ndiaye"))
    await attendee.connect()
    await attendee.ws.send(raw)
    error = await attendee.expect("error")
    assert error["code"] == code, error
    assert error["message"]
    assert (await attendee.command("ping"))["type"] == "result", "the connection is still usable"
    await attendee.close()


async def test_a_repeated_command_id_is_answered_not_applied_twice(live_servers: list[ServerProcess]) -> None:
    server = live_servers[0]
    moderator = LiveClient(server, staff_token(server, "moderator"))
    snap = await moderator.connect()
    await moderator.ok("segment.open", segment_id=snap["public"]["segments"][1]["id"])
    attendee = LiveClient(server, register(server, "Gita Rao"))
    await attendee.connect()
    frame = {"type": "question.ask", "cid": "same-id", "text": "Once only?"}
    await attendee.ws.send(json.dumps(frame))
    first = await attendee.expect("result", cid="same-id")
    await attendee.ws.send(json.dumps(frame))
    second = await attendee.expect("result", cid="same-id")
    assert first == second
    await asyncio.sleep(0.3)
    asked = [f for f in moderator.frames if f.get("event", {}).get("type") == "question.asked"]
    while len(asked) < 1:
        await moderator.expect("event", event="question.asked")
        asked = [f for f in moderator.frames if f.get("event", {}).get("type") == "question.asked"]
    fresh = LiveClient(server, moderator.token)
    assert len((await fresh.connect())["staff"]["questions"]) == 1
    for c in (moderator, attendee, fresh):
        await c.close()


async def test_an_oversized_frame_closes_only_that_connection(live_servers: list[ServerProcess]) -> None:
    server = live_servers[0]
    bystander = LiveClient(server, register(server, "Hana Ito"))
    await bystander.connect()
    sender = LiveClient(server, register(server, "Ivan Petrov"))
    await sender.connect()
    await sender.ws.send(json.dumps({"type": "question.ask", "cid": "big", "text": "x" * 70_000}))
    assert await closed_with(sender) == 1009
    assert (await bystander.command("ping"))["type"] == "result"
    await bystander.close()


async def test_a_flood_closes_the_flooder_with_policy_violation(live_servers: list[ServerProcess]) -> None:
    server = live_servers[0]
    bystander = LiveClient(server, register(server, "Jun Park"))
    await bystander.connect()
    flooder = LiveClient(server, register(server, "Kai Berg"))
    await flooder.connect()
    for i in range(200):
        try:
            await flooder.ws.send(json.dumps({"type": "ping", "cid": f"p{i}"}))
        except ConnectionClosed:
            break
    assert await closed_with(flooder) == 1008
    assert (await bystander.command("ping"))["type"] == "result"
    await bystander.close()


async def test_handshake_needs_a_session_an_allowed_origin_and_a_role(live_servers: list[ServerProcess]) -> None:
    server = live_servers[0]
    token = register(server, "Lea Vogel")
    url = server.url.replace("http://", "ws://") + "/ws/events/idm-2022-1"
    with pytest.raises(InvalidStatus) as no_session:
        await websockets.connect(url, origin=server.url)
    assert no_session.value.response.status_code == 403
    with pytest.raises(InvalidStatus):
        await websockets.connect(
            url, origin="https://evil.example", additional_headers={"Authorization": f"Bearer {token}"}
        )
    with pytest.raises(InvalidStatus):
        await websockets.connect(
            url.replace("idm-2022-1", "nope"),
            origin=server.url,
            additional_headers={"Authorization": f"Bearer {token}"},
        )
    ok = LiveClient(server, token)
    await ok.connect()
    await ok.close()


async def test_signing_out_or_revoking_closes_open_sockets_within_seconds(live_servers: list[ServerProcess]) -> None:
    server = live_servers[0]
    leaving = LiveClient(server, register(server, "Mia Costa"))
    await leaving.connect()
    assert (
        httpx.post(f"{server.url}/api/auth/logout", headers={"authorization": f"Bearer {leaving.token}"}).status_code
        == 204
    )
    assert await closed_with(leaving, timeout=8) == 4401

    revoked = LiveClient(server, register(server, "Noa Levi"))
    await revoked.connect()
    organiser = staff_token(server, "organiser")
    regs = httpx.get(
        f"{server.url}/api/events/idm-2022-1/registrations",
        params={"q": "Noa"},
        headers={"authorization": f"Bearer {organiser}"},
    ).json()["registrations"]
    revoke = httpx.post(
        f"{server.url}/api/events/idm-2022-1/registrations/{regs[0]['id']}/revoke",
        headers={"authorization": f"Bearer {organiser}"},
    )
    assert revoke.status_code == 204
    assert await closed_with(revoked, timeout=8) == 4401


async def test_a_silent_connection_is_closed_and_its_presence_ends_at_its_last_frame(
    live_servers: list[ServerProcess],
) -> None:
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from server.adapters.db.models import Presence, Registration

    server = live_servers[0]
    silent = LiveClient(server, register(server, "Omar Haddad"), answer_heartbeats=False)
    await silent.connect()
    await silent.ok("ping")
    last_frame_at = asyncio.get_running_loop().time()
    # never answer again (heartbeats keep arriving; the idle timeout is 3 s in tests)
    code = await closed_with(silent, timeout=10)
    closed_after = asyncio.get_running_loop().time() - last_frame_at
    assert code == 4408 and closed_after >= 3
    engine = create_engine(server.parley.settings().sync_database_url)
    # the server closes the presence row after the socket (its handler's last step): wait for it
    deadline = asyncio.get_running_loop().time() + 5
    while True:
        with Session(engine) as session:
            start, last_seen, end = session.execute(
                select(Presence.started_at, Presence.last_seen_at, Presence.ended_at)
                .join(Registration, Registration.id == Presence.registration_id)
                .where(Registration.name == "Omar Haddad")
            ).one()
        if end is not None or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.05)
    engine.dispose()
    assert end is not None and end == last_seen
    assert 0 <= (end - start).total_seconds() < 2, "ended at the last frame, not at discovery"


async def test_every_command_for_every_role(live_servers: list[ServerProcess]) -> None:
    """Each role tries every command: refused as `forbidden` exactly where ALLOWED_ROLES says."""
    server = live_servers[0]
    clients = {
        "attendee": LiveClient(server, register(server, "Pia Lund")),
        "moderator": LiveClient(server, staff_token(server, "moderator")),
        "organiser": LiveClient(server, staff_token(server, "organiser")),
    }
    for client in clients.values():
        await client.connect()
    samples = {
        "segment.open": {"segment_id": 999},
        "segment.pause": {"segment_id": 999},
        "segment.resume": {"segment_id": 999},
        "segment.end": {"segment_id": 999},
        "floor.grant": {"entry_id": 999},
        "speech.pause": {},
        "speech.resume": {},
        "speech.end": {},
        "speech.set_limit": {"seconds": 60},
        "notice.set": {"text": "x"},
        "notice.clear": {},
        "floor.request": {},
        "floor.withdraw": {},
        "queue.remove": {"entry_id": 999},
        "queue.reorder": {"entry_ids": [999]},
        "queue.set_order": {"order": "request"},
        "queue.close": {},
        "queue.open": {},
        "question.ask": {"text": "q"},
        "question.vote": {"question_id": 999, "up": True},
        "question.approve": {"question_id": 999},
        "question.edit": {"question_id": 999, "text": "e"},
        "question.dismiss": {"question_id": 999},
        "question.highlight": {"question_id": 999},
        "question.answer": {"question_id": 999},
        "question.archive": {"question_id": 999},
        "question.restore": {"question_id": 999},
        "qa.set_moderation": {"enabled": True},
        "poll.prepare": {"segment_id": 999, "question": "Q?", "options": ["A", "B"]},
        "poll.discard": {"poll_id": 999},
        "poll.open": {"poll_id": 999},
        "poll.close": {"poll_id": 999},
        "poll.publish": {"poll_id": 999},
        "poll.vote": {"poll_id": 999, "option_ids": [1]},
        "statement.submit": {"segment_id": 999, "language": "en", "text": "s"},
        "statement.approve": {"statement_id": 999},
        "statement.reject": {"statement_id": 999},
        "statements.set_deadline": {"after_s": 3600},
    }
    assert set(samples) == set(ALLOWED_ROLES) - {"ping", "resume"}
    for command, fields in samples.items():
        for role in ROLES:
            reply = await clients[role].command(command, **fields)
            forbidden = reply["type"] == "error" and reply["code"] == "forbidden"
            assert forbidden == (role not in ALLOWED_ROLES[command]), (role, command, reply)
    for client in clients.values():
        await client.close()


async def test_a_moderator_of_another_event_cannot_connect(live_servers: list[ServerProcess]) -> None:
    server = live_servers[0]
    copy = server.parley.cli("event", "copy", "idm-2022-1", "--new-slug", "idm-rehearsal", "--first-day", "2026-12-01")
    assert copy.returncode == 0, copy.stderr
    other = LiveClient(server, staff_token(server, "moderator"), slug="idm-rehearsal")
    with pytest.raises(InvalidStatus) as refused:
        await other.connect()
    assert refused.value.response.status_code == 403


async def test_removing_a_role_closes_that_moderators_sockets(live_servers: list[ServerProcess]) -> None:
    server = live_servers[0]
    moderator = LiveClient(server, staff_token(server, "moderator"))
    await moderator.connect()
    # in a thread: a CLI that takes seconds to start must not stop this client answering heartbeats
    result = await asyncio.to_thread(
        server.parley.cli,
        "users",
        "remove",
        "--role",
        "moderator",
        "--event",
        "idm-2022-1",
        "--email",
        "moderator@parley.localhost",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "moderator@parley.localhost: no longer moderator of idm-2022-1"
    assert await closed_with(moderator, timeout=8) == 4401
    again = server.parley.cli(
        "users", "remove", "--role", "moderator", "--event", "idm-2022-1", "--email", "moderator@parley.localhost"
    )
    assert again.returncode == 1 and "is not moderator" in again.stderr


async def test_a_socket_joins_while_the_database_cannot_write_and_its_presence_is_written_after(
    sqlite_parley: Parley,
) -> None:
    """Another process holds SQLite's write lock past the 10 s busy timeout (in production, a join
    storm past the pool's wait): a join needs no write (its presence row waits in memory), so the
    socket gets its snapshot; the row is written once the lock is gone, and connected people stay."""
    import sqlite3

    server = ServerProcess(sqlite_parley)
    try:
        moderator = LiveClient(server, staff_token(server, "moderator"))
        await moderator.connect()
        token = register(server, "Ines Duarte")
        blocker = sqlite3.connect(sqlite_parley.data_dir / "parley.db", isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            late = LiveClient(server, token)
            snapshot = await late.connect()
            assert snapshot["type"] == "snapshot"
            await asyncio.sleep(1)  # the presence flush is waiting for the lock meanwhile
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        reader = sqlite3.connect(sqlite_parley.data_dir / "parley.db")
        try:
            for _ in range(150):
                rows = reader.execute(
                    "SELECT p.ended_at FROM presences p JOIN registrations r ON r.id = p.registration_id"
                    " WHERE r.name = 'Ines Duarte'"
                ).fetchall()
                if rows:
                    break
                await asyncio.sleep(0.1)
        finally:
            reader.close()
        assert rows == [(None,)], "her presence was written, open, once the lock was gone"
        await late.close()
        await moderator.ok("ping")
        again = LiveClient(server, token)
        snapshot = await again.connect()
        assert snapshot["type"] == "snapshot"
        await again.close()
        await moderator.close()
    finally:
        server.stop()
