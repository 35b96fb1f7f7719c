"""The embedded default: `parley serve` with no Redis and no SMTP runs its own Celery worker and beat on the
SQLite broker, and reminders land in DATA_DIR/outbox as .eml files. Organisers see the counts and
resend one person's reminder through the HTTP routes."""

from __future__ import annotations

import asyncio
import email
import re
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from email import policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from config.settings import Settings
from server.app import create_app
from server.services.auth import JoinLinks
from tests.fixtures.celery import Attendee, TaskClient, build_world
from tests.fixtures.parley import Parley, ServerProcess, migrated_sqlite
from tests.fixtures.smtp import parse_ics

SECRET = "test-secret-key-not-for-production"
SLUG = "embedded-2031"


def outbox_files(data_dir: Path, count: int, timeout: float = 20) -> list[Path]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = sorted((data_dir / "outbox").glob("*.eml"), key=lambda f: f.stat().st_mtime_ns)
        if len(files) >= count:
            return files
        time.sleep(0.1)
    raise AssertionError(f"{count} .eml files expected in {data_dir / 'outbox'}, found {len(files)}")


def wait_for_log(server: ServerProcess, pattern: str, timeout: float = 30) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(pattern, server.log.read_text())
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{pattern!r} not in the server log:\n{server.log.read_text()}")


def staff_token(settings: Settings, email_address: str, role: str) -> str:
    from server.adapters.clock import SystemClock
    from server.adapters.db.engine import make_async_engine, make_sessionmaker
    from server.adapters.db.models import User
    from server.services import accounts, auth

    async def sign_in() -> str:
        engine = make_async_engine(settings)
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                await accounts.grant_role(session, email=email_address, name="", slug=SLUG, role=role, password=None)
                user = await session.scalar(select(User.id).where(User.email == email_address))
                now = SystemClock().now()
                link = await auth.create_sign_in_link(session, user, now=now)
                return await auth.sign_in_with_link(session, link, now=now)
        finally:
            await engine.dispose()

    return asyncio.run(sign_in())


@pytest.fixture()
def embedded(tmp_path: Path) -> Iterator[tuple[Parley, ServerProcess]]:
    """`parley serve` exactly as `make run` starts it: SQLite, no Redis, no SMTP, the embedded worker on."""
    data_dir = tmp_path / "data"
    parley = Parley("sqlite", data_dir, migrated_sqlite(data_dir), extra_env={"PARLEY_EMBEDDED_WORKER": "true"})
    server = ServerProcess(parley)
    try:
        yield parley, server
    finally:
        server.stop()


def test_make_run_alone_sends_reminders_to_the_outbox_and_organisers_can_resend(
    embedded: tuple[Parley, ServerProcess],
) -> None:
    parley, server = embedded
    child = int(wait_for_log(server, r"embedded worker and beat started \(pid (\d+)")[1])
    wait_for_log(server, r"celery@\S+ ready\.")
    settings = parley.settings()
    assert settings.embedded and not settings.smtp_host
    world = build_world(
        settings, SLUG, date(2031, 3, 3), [Attendee("Amina Diallo", "amina@example.org", "fr", "Africa/Dakar")]
    )
    start = world.starts[0]
    client = TaskClient(settings)
    try:
        assert client.scan(start - timedelta(hours=24) + timedelta(seconds=5)) == ["sent"]
    finally:
        client.close()
    (first,) = outbox_files(parley.data_dir, 1)
    mail = email.message_from_bytes(first.read_bytes(), policy=policy.default)
    assert mail["To"] == "Amina Diallo <amina@example.org>" and mail["Content-Language"] == "fr"
    assert str(mail["Subject"]).startswith("Rappel : ")
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "9:00–12:00 (heure de New York) · heure de Dakar : 14:00–17:00" in text
    token = text.split("/join/", 1)[1].split()[0]
    assert JoinLinks(SECRET).read(token)[0] == world.registrations["amina@example.org"]
    assert f"{server.url}/join/{token}" in text, "the link names the served address"
    (ics,) = [p for p in mail.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert parse_ics(ics.get_content().encode())["DTSTART"] == start.strftime("%Y%m%dT%H%M%SZ")

    # organisers: counts per reminder, and one person's reminder again (through the same worker)
    app = create_app(settings)
    organiser = {"Authorization": f"Bearer {staff_token(settings, 'org@example.org', 'organiser')}"}
    moderator = {"Authorization": f"Bearer {staff_token(settings, 'mod@example.org', 'moderator')}"}
    resend = {"registration_id": world.registrations["amina@example.org"], "day": "2031-03-03", "kind": "attendees-24h"}
    with TestClient(app) as http:
        listed = http.get(f"/api/events/{SLUG}/reminders", headers=organiser)
        assert listed.status_code == 200, listed.text
        rows = {(r["day"], r["kind"]): r for r in listed.json()["reminders"]}
        assert len(rows) == 3 * 4
        day_before = rows[("2031-03-03", "attendees-24h")]
        assert {k: day_before[k] for k in ("due", "sent", "failed")} == {"due": 1, "sent": 1, "failed": 0}
        assert datetime.fromisoformat(day_before["due_at"]) == start - timedelta(hours=24)
        assert datetime.fromisoformat(day_before["due_at"]).utcoffset() == (
            datetime(2031, 3, 2, 9, tzinfo=ZoneInfo("America/New_York")).utcoffset()
        )
        assert rows[("2031-03-03", "attendees-15m")]["due"] == 0

        for headers, body, status in [
            ({}, resend, 401),
            (moderator, resend, 403),
            (organiser, {**resend, "registration_id": 999999}, 404),
            (organiser, {**resend, "kind": "speakers-24h"}, 404),
            (organiser, {**resend, "day": "2031-03-09"}, 404),
            (organiser, {**resend, "kind": 7}, 422),
        ]:
            answer = http.post(f"/api/events/{SLUG}/reminders/resend", json=body, headers=headers)
            assert answer.status_code == status, (body, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
        assert http.get("/api/events/nope/reminders", headers=organiser).status_code == 404
        assert http.get(f"/api/events/{SLUG}/reminders").status_code == 401

        again = http.post(f"/api/events/{SLUG}/reminders/resend", json=resend, headers=organiser)
        assert again.status_code == 202 and again.json()["queued"] is True, again.text
        _, second_copy = outbox_files(parley.data_dir, 2)
        resent = email.message_from_bytes(second_copy.read_bytes(), policy=policy.default)
        assert resent["Message-ID"] != mail["Message-ID"] and resent["To"] == mail["To"]

        edited = http.put(
            f"/api/events/{SLUG}/reminders/schedule", json={"attendees": ["2h"], "speakers": []}, headers=organiser
        )
        assert edited.json() == {"schedule": {"attendees": ["2h"], "speakers": []}}
        bad = http.put(
            f"/api/events/{SLUG}/reminders/schedule", json={"attendees": ["2 days"], "speakers": []}, headers=organiser
        )
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "attendees"
        kinds = {
            (r["day"], r["kind"])
            for r in http.get(f"/api/events/{SLUG}/reminders", headers=organiser).json()["reminders"]
        }
        assert ("2031-03-03", "attendees-2h") in kinds and ("2031-03-03", "attendees-24h") in kinds, "past counts stay"

    server.stop()
    assert gone(child, timeout=20), "serve stops its worker when it exits"


def gone(pid: int, timeout: float) -> bool:
    """The process has exited (a zombie awaiting its reaper counts as exited)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.1)
    return False


def test_the_embedded_worker_can_be_turned_off(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    parley = Parley("sqlite", data_dir, migrated_sqlite(data_dir), extra_env={"PARLEY_EMBEDDED_WORKER": "false"})
    server = ServerProcess(parley)
    try:
        assert "embedded worker" not in server.log.read_text()
    finally:
        server.stop()
