"""Reminders through real Celery workers (`parley worker` subprocesses) on Redis and PostgreSQL, sent to
a real SMTP server (aiosmtpd), read back as they arrived.

The clock is set, not waited for: each scan task is given `now`, and the sends it enqueues inherit it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from config.settings import Settings
from server.services.auth import JoinLinks
from tests.fixtures.celery import (
    KILL_REDIS_DB,
    Attendee,
    TaskClient,
    WorkerProcess,
    build_world,
    deliveries,
    private_redis,
    stopped_at_exit,
)
from tests.fixtures.celery import reminders_redis as reminders_redis  # noqa: F401  (fixture)
from tests.fixtures.parley import Parley
from tests.fixtures.services import PostgresDatabases, pg_url
from tests.fixtures.smtp import Mailbox, Received, parse_ics, running_mailbox, smtp_env

NY = ZoneInfo("America/New_York")
SECRET = "test-secret-key-not-for-production"
H24, M45, M15 = timedelta(hours=24), timedelta(minutes=45), timedelta(minutes=15)


def nine_am(day: date) -> datetime:
    return datetime.combine(day, time(9), tzinfo=NY).astimezone(UTC)


@dataclass
class Stack:
    parley: Parley
    settings: Settings
    mailbox: Mailbox
    worker: WorkerProcess
    client: TaskClient


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, reminders_redis: str, postgres_databases: PostgresDatabases
) -> Iterator[Stack]:
    """Production's shape: PostgreSQL, Redis, a prefork worker with two processes, an SMTP server."""
    data_dir: Path = tmp_path_factory.mktemp("reminders") / "data"
    data_dir.mkdir()
    with running_mailbox() as box:
        parley = Parley(
            "postgres",
            data_dir,
            pg_url(postgres_databases.new(), "postgresql+asyncpg"),
            redis_url=reminders_redis,
            extra_env=smtp_env(box),
        )
        worker = WorkerProcess(parley, "--pool=prefork", "--concurrency=2", name="main")
        client = TaskClient(parley.settings())
        with stopped_at_exit(client, [worker]):
            yield Stack(parley, parley.settings(), box, worker, client)


def by_address(mails: list[Received], kind: str) -> dict[str, list[Received]]:
    found: dict[str, list[Received]] = {}
    for mail in mails:
        if mail.reminder[2] == kind:
            found.setdefault(mail.to, []).append(mail)
    return found


def test_each_person_gets_each_reminder_once_in_their_language_with_both_zones(stack: Stack) -> None:
    """Attendees (fr in Dakar, es in Madrid, en with no zone, a late registration, a revoked one) and the
    morning's moderators and speakers (plus the event's staff moderators), through two scans at once and
    every send task delivered three times."""
    start = nine_am(date(2031, 3, 3))
    world = build_world(
        stack.settings,
        "workers-2031",
        date(2031, 3, 3),
        [
            Attendee("Amina Diallo", "amina@example.org", "fr", "Africa/Dakar"),
            Attendee("Lucía Pérez", "lucia@example.org", "es", "Europe/Madrid"),
            Attendee("John Smith", "john@example.org", "en"),
            Attendee("Late Comer", "late@example.org", "en", registered_at=start - timedelta(hours=2)),
            Attendee("Gone Away", "gone@example.org", "fr", revoked=True),
        ],
        speaker_emails={"Mariam Yassin Hagi Yussuf": "mariam@example.org", "Ugochi Daniels": "ugochi@example.org"},
        staff_moderators=[("Ugochi Daniels", "UGOCHI@example.org"), ("Stage Manager", "stage@example.org")],
    )
    assert world.starts[0] == start

    def scan_twice_and_duplicate(now: datetime) -> Counter[str]:
        scans = [stack.client.send("parley.reminders.scan", now=now.isoformat()) for _ in range(2)]
        results = [scan.get(timeout=30) for scan in scans]
        ids = [i for result in results for i in result["enqueued"]]
        assert len(ids) == len(set(ids)), "each delivery handed out by one scan"
        tasks = [t for result in results for t in result["tasks"]]
        tasks += [stack.client.send("parley.reminders.send", delivery_id=i, now=now.isoformat()).id for i in ids * 2]
        outcomes = Counter(stack.client.outcomes(tasks))
        assert outcomes == Counter({"sent": len(ids), "not-claimed": 2 * len(ids)}), outcomes
        return outcomes

    scan_twice_and_duplicate(start - H24 + timedelta(seconds=20))
    scan_twice_and_duplicate(start - M45 + timedelta(seconds=5))
    scan_twice_and_duplicate(start - M15 + timedelta(seconds=5))
    assert stack.client.scan(start - timedelta(minutes=10)) == [], "scanning again sends nothing more"

    mails = stack.mailbox.wait_for("workers-2031", 13)
    attendees_24h, attendees_15m = by_address(mails, "attendees-24h"), by_address(mails, "attendees-15m")
    speakers_24h, speakers_45m = by_address(mails, "speakers-24h"), by_address(mails, "speakers-45m")
    regulars = {"amina@example.org", "lucia@example.org", "john@example.org"}
    speakers = {"mariam@example.org", "ugochi@example.org", "stage@example.org"}
    assert set(attendees_24h) == regulars, "not the late registration, not the revoked one"
    assert set(attendees_15m) == regulars | {"late@example.org"}
    assert set(speakers_24h) == set(speakers_45m) == speakers, "Ugochi once, though programme and staff"
    for group in (attendees_24h, attendees_15m, speakers_24h, speakers_45m):
        assert all(len(copies) == 1 for copies in group.values()), "one copy each"
    assert len(mails) == 3 + 4 + 3 + 3

    amina, lucia, john = (attendees_24h[a][0] for a in ("amina@example.org", "lucia@example.org", "john@example.org"))
    assert [m.message["Content-Language"] for m in (amina, lucia, john)] == ["fr", "es", "en"]
    assert (
        str(amina.message["Subject"]).startswith("Rappel : ") and "lundi 3 mars 2031 à 9:00" in amina.message["Subject"]
    )
    assert str(lucia.message["Subject"]).startswith("Recordatorio: ")
    assert str(john.message["Subject"]).startswith("Reminder: ")
    assert "9:00–12:00 (heure de New York) · heure de Dakar : 14:00–17:00" in amina.text()
    assert "9:00–12:00 (hora de Nueva York) · hora de Madrid: 15:00–18:00" in lucia.text()
    assert "9:00–12:00 (New York time)\n" in john.text()
    assert "15:00–18:00" in lucia.html() and "Panel 1" in lucia.html()
    for address, (mail,) in attendees_24h.items():
        token = mail.text().split("/join/", 1)[1].split()[0]
        assert JoinLinks(SECRET).read(token)[0] == world.registrations[address]
        assert str(mail.message["From"]) == "IDM reminders <reminders@parley.example.org>"
        event = parse_ics(mail.ics())
        assert (event["DTSTART"], event["DTEND"], event["SEQUENCE"]) == ("20310303T140000Z", "20310303T170000Z", "0")
        assert event["URL"] == f"https://parley.example.org/join/{token}"
        (later,) = attendees_15m[address]
        assert parse_ics(later.ics())["UID"] == event["UID"], "one calendar entry per person and morning"
        assert later.message["Message-ID"] != mail.message["Message-ID"]
    assert len({parse_ics(m.ics())["UID"] for (m,) in attendees_24h.values()}) == 3

    # moderators and speakers: the event's first language (fr), their own segments and roles
    mariam, ugochi, stage = (
        speakers_45m[a][0] for a in ("mariam@example.org", "ugochi@example.org", "stage@example.org")
    )
    assert "Vos interventions :\n  * 9:30–10:45  Panel 1" in mariam.text() and "(vous intervenez)" in mariam.text()
    assert "(vous modérez)" in ugochi.text() and "Vos interventions" not in stage.text()
    assert "dans 45 minutes" in ugochi.text() and "Connectez-vous sur https://parley.example.org" in stage.text()

    rows = deliveries(stack.settings, "workers-2031")
    assert len(rows) == 13 and {r.status for r in rows} == {"sent"} and {r.attempts for r in rows} == {1}


def test_a_temporary_smtp_failure_is_retried_with_backoff_then_delivered(stack: Stack) -> None:
    start = nine_am(date(2032, 3, 2))
    build_world(stack.settings, "retry-2032", date(2032, 3, 2), [Attendee("Busy Box", "busy@example.org")])
    stack.mailbox.temporary["busy@example.org"] = 2  # 451 twice
    now = start - H24 + timedelta(seconds=5)
    assert stack.client.scan(now) == ["retry"]
    (row,) = deliveries(stack.settings, "retry-2032")
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 1, now + timedelta(minutes=1))
    assert row.error.startswith("SMTP 451")
    assert stack.client.scan(now + timedelta(seconds=30)) == [], "not before its backoff"
    now += timedelta(minutes=1, seconds=1)
    assert stack.client.scan(now) == ["retry"]
    (row,) = deliveries(stack.settings, "retry-2032")
    assert row.next_attempt_at == now + timedelta(minutes=2), "the backoff doubles"
    assert stack.client.scan(now + timedelta(minutes=2)) == ["sent"]
    assert stack.mailbox.attempts["busy@example.org"] == 3
    assert len(stack.mailbox.wait_for("retry-2032", 1)) == 1
    (row,) = deliveries(stack.settings, "retry-2032")
    assert (row.status, row.attempts, row.error) == ("sent", 3, None)


def test_a_permanent_smtp_failure_is_recorded_and_not_retried(stack: Stack) -> None:
    start = nine_am(date(2033, 3, 1))
    build_world(
        stack.settings,
        "refused-2033",
        date(2033, 3, 1),
        [Attendee("Nobody", "nobody@example.org"), Attendee("Somebody", "somebody@example.org")],
    )
    stack.mailbox.refused["nobody@example.org"] = "550 5.1.1 No such user here"
    now = start - H24 + timedelta(seconds=5)
    assert sorted(stack.client.scan(now)) == ["failed", "sent"]
    for later in (timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=3)):
        assert stack.client.scan(now + later) == []
    assert stack.mailbox.attempts["nobody@example.org"] == 1
    assert [m.to for m in stack.mailbox.wait_for("refused-2033", 1)] == ["somebody@example.org"]
    failed = {r.email: r for r in deliveries(stack.settings, "refused-2033")}["nobody@example.org"]
    assert (failed.status, failed.attempts) == ("failed", 1) and "550 5.1.1 No such user here" in failed.error


def test_a_worker_killed_mid_send_leaves_no_one_without_their_reminder(stack: Stack) -> None:
    """One delivery per task (PARLEY_MAIL_BATCH=1), so each doomed worker takes one send. Three sends
    stall at the SMTP server and their workers are SIGKILLed: one before the server had
    the message (RCPT), one after the server had it but before the worker heard its 250 (DATA), one
    after the 250, during the goodbye (QUIT). A fourth worker, once the claims' lease is over, sends
    what is left: exactly one copy for the first; for the second the server now holds two
    byte-identical copies (same Message-ID), as docs/workers.md says; the third was recorded as sent
    the moment the server said 250, so it is not sent again."""
    start = nine_am(date(2034, 3, 7))
    build_world(
        stack.settings,
        "killed-2034",
        date(2034, 3, 7),
        [
            Attendee("First", "first@example.org"),
            Attendee("Second", "second@example.org"),
            Attendee("Third", "third@example.org"),
        ],
    )
    with running_mailbox() as box:
        redis_url = private_redis(KILL_REDIS_DB)  # its own queue: the module's worker must not take these tasks
        env = {**smtp_env(box), "PARLEY_REDIS_URL": redis_url, "PARLEY_MAIL_BATCH": "1"}
        client = TaskClient(stack.parley.settings(redis_url=redis_url))
        workers: list[WorkerProcess] = []
        try:
            with stopped_at_exit(client, workers):
                stalls = [
                    box.stall("first@example.org", "RCPT"),
                    box.stall("second@example.org", "DATA"),
                    box.stall("third@example.org", "QUIT"),
                ]
                now = start - H24 + timedelta(seconds=5)
                # each doomed worker takes one send, stalls at the SMTP server, dies
                for doomed, name in enumerate(["doomed-a", "doomed-b", "doomed-c"]):
                    workers.append(WorkerProcess(stack.parley, "--pool=solo", name=name, **env))
                    if doomed == 0:
                        assert len(client.run("parley.reminders.scan", now=now.isoformat())["enqueued"]) == 3
                    deadline = datetime.now(UTC) + timedelta(seconds=20)
                    while sum(s.reached.is_set() for s in stalls) < doomed + 1 and datetime.now(UTC) < deadline:
                        stalls[0].reached.wait(0.05)
                    reached = sum(s.reached.is_set() for s in stalls)
                    assert reached == doomed + 1, f"{name} did not reach the SMTP server"
                    workers[-1].kill()
                status = {r.email: r.status for r in deliveries(stack.settings, "killed-2034")}
                assert status == {
                    "first@example.org": "sending",
                    "second@example.org": "sending",
                    "third@example.org": "sent",
                }
                workers.append(WorkerProcess(stack.parley, "--pool=solo", name="survivor", **env))
                assert client.scan(now + timedelta(minutes=9)) == [], "a live claim is respected"
                assert sorted(client.scan(now + timedelta(minutes=10, seconds=1))) == ["sent", "sent"]
                copies = Counter(m.to for m in box.for_event("killed-2034"))
                assert copies["first@example.org"] == 1, "stalled before the message: sent once, by the survivor"
                second = [m for m in box.for_event("killed-2034") if m.to == "second@example.org"]
                assert len(second) == 2 and second[0].raw == second[1].raw, "accepted before the kill: resent identical"
                assert copies["third@example.org"] == 1, "recorded as sent at the server's 250: never sent again"
                rows = {r.email: (r.status, r.attempts) for r in deliveries(stack.settings, "killed-2034")}
                assert rows == {
                    "first@example.org": ("sent", 2),
                    "second@example.org": ("sent", 2),
                    "third@example.org": ("sent", 1),
                }
        finally:
            private_redis(KILL_REDIS_DB)
