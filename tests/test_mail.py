"""Confirmations, lost links and organisers' messages, end to end: a real `parley serve` (uvicorn) and a
real `parley worker` on PostgreSQL and Redis, mailing a real SMTP server (aiosmtpd), read back as the
mails arrived. They ride on the reminders' delivery record: exactly once each, counted, resendable.
"""

from __future__ import annotations

import asyncio
import email
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, insert, select

from config.settings import Settings
from server.adapters.db.models import Day, Event, Presence, Registration, ReminderDelivery
from server.services.auth import JoinLinks
from server.services.reminders import calendar_uid
from tests.fixtures.celery import Attendee, TaskClient, WorkerProcess, build_world, stopped_at_exit
from tests.fixtures.celery import reminders_redis as reminders_redis  # noqa: F401  (fixture)
from tests.fixtures.parley import Parley, ServerProcess
from tests.fixtures.services import PostgresDatabases, pg_url
from tests.fixtures.smtp import Mailbox, Received, running_mailbox, smtp_env

SECRET = "test-secret-key-not-for-production"
LINKS = JoinLinks(SECRET)


@dataclass
class Stack:
    parley: Parley
    settings: Settings
    mailbox: Mailbox
    server: ServerProcess
    client: TaskClient

    def http(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.server.url, headers={"Origin": smtp_env(self.mailbox)["PARLEY_PUBLIC_URL"]}, timeout=30
        )


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, reminders_redis: str, postgres_databases: PostgresDatabases
) -> Iterator[Stack]:
    data_dir: Path = tmp_path_factory.mktemp("mail") / "data"
    data_dir.mkdir()
    with running_mailbox() as box:
        parley = Parley(
            "postgres",
            data_dir,
            pg_url(postgres_databases.new(), "postgresql+asyncpg"),
            redis_url=reminders_redis,
            extra_env={
                **smtp_env(box),
                "PARLEY_LOST_LINK_MAX_PER_EMAIL": "2",
                "PARLEY_LOST_LINK_MAX_PER_ADDRESS": "8",
            },
        )
        worker = WorkerProcess(parley, "--pool=solo", name="mail")
        server = ServerProcess(parley)
        client = TaskClient(parley.settings())
        with stopped_at_exit(client, [server, worker]):
            yield Stack(parley, parley.settings(), box, server, client)


def mails(box: Mailbox, slug: str, kind: str | None = None) -> list[Received]:
    with box._lock:
        found = [r for r in box.received if str(r.message["X-Parley-Mail"] or "").split()[:1] == [slug]]
    return [r for r in found if kind is None or str(r.message["X-Parley-Mail"]).split()[1] == kind]


def wait_mails(box: Mailbox, slug: str, kind: str, count: int, timeout: float = 30) -> list[Received]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = mails(box, slug, kind)
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{len(mails(box, slug, kind))} {kind} mails for {slug}, expected {count}")


def settle(stack: Stack, slug: str, kind: str, expected: int) -> list[Received]:
    """Wait for ``expected`` mails, then run a scan and every send again: nothing more may arrive."""
    found = wait_mails(stack.mailbox, slug, kind, expected)
    stack.client.scan(datetime.now(UTC))
    time.sleep(0.3)
    assert len(mails(stack.mailbox, slug, kind)) == expected
    return found


def rows(settings: Settings, slug: str) -> list[ReminderDelivery]:
    engine = create_engine(settings.sync_database_url)
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    select(ReminderDelivery)
                    .join(Event, Event.id == ReminderDelivery.event_id)
                    .where(Event.slug == slug, ReminderDelivery.day_id.is_(None))
                    .order_by(ReminderDelivery.id)
                )
            )
    finally:
        engine.dispose()


def organiser_token(settings: Settings, slug: str) -> str:
    from server.adapters.clock import SystemClock
    from server.adapters.db.engine import make_async_engine, make_sessionmaker
    from server.adapters.db.models import User
    from server.services import accounts, auth

    address = f"org-{uuid.uuid4().hex[:6]}@example.org"

    async def sign_in() -> str:
        engine = make_async_engine(settings)
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                await accounts.grant_role(session, email=address, name="", slug=slug, role="organiser", password=None)
                user = await session.scalar(select(User.id).where(User.email == address))
                now = SystemClock().now()
                link = await auth.create_sign_in_link(session, user, now=now)
                return await auth.sign_in_with_link(session, link, now=now)
        finally:
            await engine.dispose()

    return asyncio.run(sign_in())


def join_token(mail: Received) -> str:
    line = next(line for line in mail.text().splitlines() if "/join/" in line)
    return line.rsplit("/join/", 1)[1].strip()


# --- confirmation -----------------------------------------------------------------------------------


def test_registering_sends_one_confirmation_in_the_right_language_with_the_link_and_the_mornings(
    stack: Stack,
) -> None:
    slug = "mail-confirm"
    world = build_world(stack.settings, slug, datetime.now(UTC).date() + timedelta(days=30), [])
    people = [
        ("Amina Diallo", "amina@example.org", "fr", "Africa/Dakar"),
        ("Lucía Pérez", "lucia@example.org", "es", None),
        ("John Smith", "john@example.org", "en", None),
    ]
    links = {}
    with stack.http() as http:
        for name, address, language, zone in people:
            body = {"name": name, "email": address, "category": "academia", "language": language, "timezone": zone}
            answer = http.post(f"/api/events/{slug}/registrations", json=body)
            assert answer.status_code == 201, answer.text
            links[address] = answer.json()["join_url"]
        again = http.post(
            f"/api/events/{slug}/registrations", json={"name": "J", "email": "john@example.org", "category": "other"}
        )
        assert again.status_code == 409

    # every way of registering goes through register(): a bulk import calls it without enqueueing
    async def import_one() -> None:
        from server.adapters.db.engine import make_async_engine, make_sessionmaker
        from server.services import registrations

        engine = make_async_engine(stack.settings)
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                data = registrations.RegistrationIn(name="Bulk Row", email="bulk@example.org", category="media")
                await registrations.register(session, slug, data, LINKS, now=datetime.now(UTC))
        finally:
            await engine.dispose()

    asyncio.run(import_one())
    stack.client.scan(datetime.now(UTC))  # the beat's scan picks the imported one up
    received = settle(stack, slug, "confirmation", 4)
    by_address = {m.to: m for m in received}
    assert sorted(by_address) == ["amina@example.org", "bulk@example.org", "john@example.org", "lucia@example.org"]
    subjects = {a: str(m.message["Subject"]) for a, m in by_address.items()}
    assert subjects["amina@example.org"].startswith("Inscription confirmée")
    assert subjects["lucia@example.org"].startswith("Inscripción confirmada")
    assert subjects["john@example.org"].startswith("Registration confirmed")
    for address, mail in by_address.items():
        assert mail.message["Content-Language"] == {"amina@example.org": "fr", "lucia@example.org": "es"}.get(
            address, "en"
        )
        ics = mail.ics().decode()
        assert ics.count("BEGIN:VEVENT") == len(world.starts) == 3
        for start in world.starts:
            assert f"DTSTART:{start:%Y%m%dT%H%M%SZ}" in ics
            uid = calendar_uid(slug, start.date(), address, "parley.example.org")
            assert f"UID:{uid[:60]}" in ics.replace("\r\n ", "")
        if address in links:
            assert links[address].endswith("/join/" + join_token(mail))  # the same link as on the page
    assert "(heure de Dakar)" not in by_address["amina@example.org"].text()  # event time, then her zone
    assert "Dakar" in by_address["amina@example.org"].text()
    statuses = [(r.kind, r.status) for r in rows(stack.settings, slug)]
    assert statuses == [("confirmation", "sent")] * 4
    # every send task delivered twice more: nothing left to claim, nothing sent again
    again = [stack.client.send("parley.reminders.send", delivery_id=r.id).id for r in rows(stack.settings, slug) * 2]
    assert stack.client.wait(again) == ["not-claimed"] * 8
    assert len(mails(stack.mailbox, slug, "confirmation")) == 4


# --- lost link --------------------------------------------------------------------------------------


def test_lost_link_answers_alike_sends_the_current_link_once_is_throttled_and_the_old_link_still_works(
    stack: Stack,
) -> None:
    slug = "mail-lost"
    world = build_world(
        stack.settings,
        slug,
        datetime.now(UTC).date() + timedelta(days=30),
        [
            Attendee("Ada Known", "ada@example.org", "es"),
            Attendee("Gone Away", "gone@example.org", "fr", revoked=True),
        ],
    )
    with stack.http() as http:
        answers = [
            http.post(f"/api/events/{slug}/lost-link", json={"email": address})
            for address in ("ADA@example.org", "nobody@example.org", "gone@example.org")
        ]
        assert {(a.status_code, a.text) for a in answers} == {(202, answers[0].text)}
        (mail,) = settle(stack, slug, "link", 1)
        assert mail.to == "ada@example.org"
        assert str(mail.message["Subject"]).startswith("Su enlace personal")
        token = join_token(mail)
        assert LINKS.read(token)[0] == world.registrations["ada@example.org"]
        assert http.post("/api/join/peek", json={"token": token}).status_code == 200

        # a second request: a new copy of the same, still-working link; then the address is throttled,
        # registered or not, with the same answer
        assert http.post(f"/api/events/{slug}/lost-link", json={"email": "ada@example.org"}).status_code == 202
        assert http.post(f"/api/events/{slug}/lost-link", json={"email": "nobody@example.org"}).status_code == 202
        second = settle(stack, slug, "link", 2)[1]
        assert join_token(second) == token and second.message["Message-ID"] != mail.message["Message-ID"]
        for address in ("ada@example.org", "nobody@example.org"):
            refused = http.post(f"/api/events/{slug}/lost-link", json={"email": address})
            assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
            assert refused.json()["code"] == "too_many_requests"
        # per client address: 8 requests in the window whatever the addresses
        statuses = [
            http.post(f"/api/events/{slug}/lost-link", json={"email": f"x{i}@example.org"}).status_code
            for i in range(4)
        ]
        assert statuses == [202, 202, 202, 429]
        assert http.post(f"/api/events/{slug}/lost-link", json={"email": "not an address"}).status_code == 422
        assert http.post("/api/events/nope/lost-link", json={"email": "ada@example.org"}).status_code == 404
        # the old link still signs in
        assert http.post("/api/join", json={"token": token}).status_code == 200
    time.sleep(0.3)
    assert [m.to for m in mails(stack.mailbox, slug, "link")] == ["ada@example.org"] * 2


# --- messages ---------------------------------------------------------------------------------------


def test_messages_reach_exactly_their_audience_once_with_counts_and_a_resend_of_the_failed(stack: Stack) -> None:
    slug = "mail-messages"
    first = datetime.now(UTC).date() - timedelta(days=1)  # the first morning is over, the last still ahead
    people = [
        Attendee("Full Stay", "full@example.org", "fr"),
        Attendee("Short Stay", "short@example.org", "en"),
        Attendee("Never Came", "never@example.org", "es"),
        Attendee("Press Person", "press@example.org", "en"),
        Attendee("Revoked One", "revoked@example.org", "en", revoked=True),
    ]
    world = build_world(stack.settings, slug, first, people)
    engine = create_engine(stack.settings.sync_database_url)
    with engine.begin() as conn:
        conn.execute(
            Registration.__table__.update()
            .where(Registration.id == world.registrations["press@example.org"])
            .values(category="media")
        )
        day = conn.execute(select(Day).where(Day.event_id == world.event_id).order_by(Day.date)).first()
        assert day is not None
        for address, minutes in (("full@example.org", None), ("short@example.org", 10), ("press@example.org", None)):
            ends = day.ends_at if minutes is None else day.starts_at + timedelta(minutes=minutes)
            conn.execute(
                insert(Presence).values(
                    event_id=world.event_id,
                    registration_id=world.registrations[address],
                    connection_id=str(uuid.uuid4()),
                    server_id="test",
                    started_at=day.starts_at,
                    last_seen_at=ends,
                    ended_at=ends,
                )
            )
    engine.dispose()
    headers = {"Authorization": f"Bearer {organiser_token(stack.settings, slug)}"}
    morning = first.isoformat()
    audiences = {
        "everyone": ({"kind": "everyone"}, {"full", "short", "never", "press"}),
        "media": ({"kind": "category", "category": "media"}, {"press"}),
        "english": ({"kind": "language", "language": "en"}, {"short", "press"}),
        "not_joined": ({"kind": "not_joined", "day": morning}, {"never"}),
        "under": ({"kind": "under_threshold", "day": morning}, {"short"}),
    }
    with stack.http() as http:
        languages = http.get(f"/api/events/{slug}/messages", headers=headers).json()["languages"]
        for name, (audience, expected) in audiences.items():
            preview = http.post(f"/api/events/{slug}/messages/preview", json={"audience": audience}, headers=headers)
            assert preview.status_code == 200, preview.text
            assert preview.json()["recipients"] == len(expected), name
        stack.mailbox.refused["never@example.org"] = "550 5.1.1 No such mailbox"
        for name, (audience, _expected) in audiences.items():
            body = {
                "subject": {lang: f"{name} [{lang}]" for lang in languages},
                "text": {lang: f"Text of {name} in {lang}.\n\nSecond paragraph." for lang in languages},
                "audience": audience,
            }
            sent = http.post(f"/api/events/{slug}/messages", json=body, headers=headers)
            assert sent.status_code == 202, sent.text
        total = sum(len(expected) for _a, expected in audiences.values())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            listed = http.get(f"/api/events/{slug}/messages", headers=headers).json()["messages"]
            if sum(m["sent"] + m["failed"] for m in listed) == total:
                break
            time.sleep(0.2)
        by_subject = {m["subject"]["en"].split()[0]: m for m in listed}
        for name, (_audience, expected) in audiences.items():
            failed = 1 if "never" in expected else 0
            row = by_subject[name]
            assert (row["recipients"], row["sent"], row["failed"], row["pending"]) == (
                len(expected),
                len(expected) - failed,
                failed,
                0,
            ), name
        received = mails(stack.mailbox, slug, "message")
        got: dict[str, list[str]] = {}
        for mail in received:
            got.setdefault(str(mail.message["Subject"]).split()[0], []).append(mail.to.split("@")[0])
        for name, (_audience, expected) in audiences.items():
            assert sorted(got.get(name, [])) == sorted(expected - {"never"}), name
        full = next(m for m in received if m.to == "full@example.org")
        assert str(full.message["Subject"]) == "everyone [fr]" and "Text of everyone in fr." in full.text()
        assert LINKS.read(join_token(full))[0] == world.registrations["full@example.org"]

        # the mailbox works again: resending sends only the failed ones, once
        del stack.mailbox.refused["never@example.org"]
        everyone = by_subject["everyone"]["id"]
        resent = http.post(f"/api/events/{slug}/messages/{everyone}/resend", headers=headers)
        assert resent.status_code == 202 and resent.json()["resent"] == 1
        wait_mails(stack.mailbox, slug, "message", len(received) + 1)
        stack.client.scan(datetime.now(UTC))
        time.sleep(0.3)
        assert len(mails(stack.mailbox, slug, "message")) == len(received) + 1
        row = next(
            m
            for m in http.get(f"/api/events/{slug}/messages", headers=headers).json()["messages"]
            if m["id"] == everyone
        )
        assert (row["sent"], row["failed"]) == (4, 0)

        # refusals
        missing = {"subject": {"en": "x"}, "text": {"en": "y"}, "audience": {"kind": "everyone"}}
        if len(languages) > 1:
            assert http.post(f"/api/events/{slug}/messages", json=missing, headers=headers).status_code == 422
        no_day = {"audience": {"kind": "not_joined"}}
        assert http.post(f"/api/events/{slug}/messages/preview", json=no_day, headers=headers).status_code == 422
        bad_day = {"audience": {"kind": "not_joined", "day": "2001-01-01"}}
        assert http.post(f"/api/events/{slug}/messages/preview", json=bad_day, headers=headers).status_code == 404
        assert http.get(f"/api/events/{slug}/messages").status_code == 401
        assert http.post(f"/api/events/{slug}/messages/999999/resend", headers=headers).status_code == 404
    revoked = world.registrations["revoked@example.org"]
    assert all(r.registration_id != revoked for r in rows(stack.settings, slug))


# --- composition (no services) ----------------------------------------------------------------------


def test_the_notice_phrases_are_in_every_mail_language() -> None:
    import yaml

    from server.core.languages import INTERFACE_LANGUAGES
    from workers.notices import TEMPLATES

    phrases = yaml.safe_load((TEMPLATES / "notices.yaml").read_text(encoding="utf-8"))
    assert sorted(phrases) == sorted(INTERFACE_LANGUAGES)
    keys = {code: set(phrases[code]) for code in phrases}
    assert all(k == keys["en"] for k in keys.values()), keys
    assert all(str(v).strip() for code in phrases for v in phrases[code].values())


def test_a_notice_is_the_same_message_every_time_and_a_line_break_in_a_name_fails_it() -> None:
    import dataclasses

    from server.services.reminders.notices import NoticeMail, NoticeMorning
    from workers.mail import CompositionError
    from workers.notices import compose

    start = datetime(2031, 3, 3, 14, tzinfo=UTC)
    mornings = tuple(
        NoticeMorning(
            (start + timedelta(days=i)).date(),
            f"Day {i + 1}",
            start + timedelta(days=i),
            start + timedelta(days=i, hours=3),
            f"uid-{i}@x",
            i,
        )
        for i in range(3)
    )
    mail = NoticeMail(
        delivery_id=1,
        kind="confirmation",
        message_id="<confirmation-abc-0@parley.example.org>",
        mail_date=start - timedelta(days=30),
        to_name="Amina Diallo",
        to_email="amina@example.org",
        language="fr",
        recipient_timezone="Africa/Dakar",
        event_slug="s",
        event_title="Dialogue",
        event_timezone="America/New_York",
        join_url="https://parley.example.org/join/t0ken",
        site_url="https://parley.example.org",
        outbox_name="x",
        mornings=mornings,
    )
    settings = Settings(_env_file=None, smtp_from="Parley <noreply@parley.example.org>")  # type: ignore[call-arg]
    first = compose(mail, settings).as_bytes()
    assert compose(mail, settings).as_bytes() == first
    parsed = Received(["amina@example.org"], first, email.message_from_bytes(first, policy=policy.default))  # type: ignore[arg-type]
    ics = parsed.ics().decode()
    assert ics.count("BEGIN:VEVENT") == 3 and "UID:uid-2@x\r\nSEQUENCE:2" in ics
    assert parsed.message["X-Parley-Mail"] == "s confirmation"
    assert "lundi 3 mars 2031, 9:00=E2=80=9312:00 (heure de New York)" in first.decode()  # quoted-printable
    assert "heure de Dakar : 14:00–17:00" in parsed.text() and "https://parley.example.org/join/t0ken" in parsed.text()
    message = dataclasses.replace(mail, kind="message", mornings=(), subject="Objet", text="Un.\n\nDeux.")
    composed = compose(message, settings)
    assert composed["Subject"] == "Objet" and not any(p.get_content_type() == "text/calendar" for p in composed.walk())
    with pytest.raises(CompositionError):
        compose(dataclasses.replace(mail, to_name="Amina\nBcc: everyone@example.org"), settings)
