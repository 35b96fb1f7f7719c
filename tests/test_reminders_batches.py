"""Reminders sent in batches, on the embedded default: SQLite database and broker, `parley worker
--pool=solo` processes (two of them), a real SMTP server (aiosmtpd) that numbers its connections.

A scan hands its deliveries out PARLEY_MAIL_BATCH (50) to a task; each task claims its deliveries
with one UPDATE, sends them over one SMTP connection and records each as the server accepts it.
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
from tests.fixtures.celery import Attendee, TaskClient, WorkerProcess, build_world, deliveries, stopped_at_exit
from tests.fixtures.parley import Parley, migrated_sqlite
from tests.fixtures.smtp import Mailbox, running_mailbox, smtp_env
from tests.fixtures.smtp import mailbox as mailbox  # noqa: F401  (fixture)

NY = ZoneInfo("America/New_York")
H24 = timedelta(hours=24)


def day_before(day: date) -> datetime:
    """Five seconds after the 24-hour reminder of the morning starting at 9:00 New York time."""
    return datetime.combine(day, time(9), tzinfo=NY).astimezone(UTC) - H24 + timedelta(seconds=5)


def people(prefix: str, count: int) -> list[Attendee]:
    return [Attendee(f"{prefix.title()} {n}", f"{prefix}{n}@example.org") for n in range(count)]


@dataclass
class Embedded:
    parley: Parley
    settings: Settings
    mailbox: Mailbox
    client: TaskClient


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Embedded]:
    data_dir: Path = tmp_path_factory.mktemp("batches") / "data"
    with running_mailbox() as box:
        parley = Parley("sqlite", data_dir, migrated_sqlite(data_dir), extra_env=smtp_env(box))
        client = TaskClient(parley.settings())
        workers: list[WorkerProcess] = []
        with stopped_at_exit(client, workers):
            for name in ("one", "two"):
                workers.append(WorkerProcess(parley, "--pool=solo", name=name))
            yield Embedded(parley, parley.settings(), box, client)


def test_a_batch_goes_out_over_one_connection_and_duplicate_tasks_send_nothing_again(embedded: Embedded) -> None:
    """Twelve reminders: one task, one SMTP session carrying twelve messages, each recorded once; the
    same batch sent twice more, taken by the other worker at the same time, claims nothing."""
    build_world(embedded.settings, "batch-2041", date(2041, 3, 4), people("batch", 12))
    now = day_before(date(2041, 3, 4))
    scan = embedded.client.run("parley.reminders.scan", now=now.isoformat())
    assert len(scan["enqueued"]) == 12 and len(scan["tasks"]) == 1, "twelve deliveries, one batch"
    again = [
        embedded.client.send("parley.reminders.send_batch", delivery_ids=scan["enqueued"], now=now.isoformat()).id
        for _ in range(2)
    ]
    outcomes = Counter(embedded.client.outcomes(scan["tasks"] + again))
    assert outcomes == Counter({"sent": 12, "not-claimed": 24}), outcomes
    mails = embedded.mailbox.wait_for("batch-2041", 12)
    assert sorted(m.to for m in mails) == sorted(p.email for p in people("batch", 12)), "each person once"
    (session,) = {m.session for m in mails}
    assert len([m for m in embedded.mailbox.received if m.session == session]) == 12, "one connection, all twelve"
    rows = deliveries(embedded.settings, "batch-2041")
    assert {(r.status, r.attempts) for r in rows} == {("sent", 1)} and len(rows) == 12
    assert embedded.client.scan(now + timedelta(minutes=10)) == [], "nothing left to send"


def test_a_refused_recipient_fails_only_its_own_delivery(embedded: Embedded) -> None:
    """In one batch: a 550 at RCPT fails that delivery for good, a 451 at DATA retries that one later,
    and the others go out over the same connection."""
    crowd = people("mixed", 5)
    build_world(embedded.settings, "mixed-2042", date(2042, 3, 4), crowd)
    embedded.mailbox.refused[crowd[1].email] = "550 5.1.1 No such user here"
    embedded.mailbox.temporary[crowd[3].email] = 1
    now = day_before(date(2042, 3, 4))
    assert Counter(embedded.client.scan(now)) == Counter({"sent": 3, "failed": 1, "retry": 1})
    rows = {r.email: r for r in deliveries(embedded.settings, "mixed-2042")}
    assert (rows[crowd[1].email].status, rows[crowd[1].email].attempts) == ("failed", 1)
    assert "550 5.1.1" in rows[crowd[1].email].error
    assert (rows[crowd[3].email].status, rows[crowd[3].email].next_attempt_at) == (
        "pending",
        now + timedelta(minutes=1),
    )
    mails = embedded.mailbox.wait_for("mixed-2042", 3)
    assert len({m.session for m in mails}) == 1, "the refusals did not cost the connection"
    assert embedded.client.scan(now + timedelta(minutes=1, seconds=1)) == ["sent"]
    sent = Counter(m.to for m in embedded.mailbox.wait_for("mixed-2042", 4))
    assert sent == Counter({p.email: 1 for p in crowd if p is not crowd[1]})


def test_a_dropped_connection_is_opened_again_and_the_batch_goes_on(embedded: Embedded) -> None:
    """The server closes the connection at the third message (before taking it): the sender connects
    again once and sends the third and the rest on the new connection; nobody gets two copies."""
    crowd = people("dropped", 6)
    build_world(embedded.settings, "dropped-2043", date(2043, 3, 4), crowd)
    embedded.mailbox.drops = [3]
    assert embedded.client.scan(day_before(date(2043, 3, 4))) == ["sent"] * 6
    mails = embedded.mailbox.wait_for("dropped-2043", 6)
    assert Counter(m.to for m in mails) == Counter({p.email: 1 for p in crowd})
    assert sorted(Counter(m.session for m in mails).values()) == [2, 4], "two messages, the drop, then four"
    assert {(r.status, r.attempts) for r in deliveries(embedded.settings, "dropped-2043")} == {("sent", 1)}


def test_a_connection_that_drops_again_leaves_the_rest_for_the_next_scan(embedded: Embedded) -> None:
    """The connection drops at the third message and the new one at once too: the two accepted stay
    sent, the third is retried after its backoff, the three never tried are given back untouched (not
    an attempt) and the next scan sends them. Each person gets one copy."""
    crowd = people("flaky", 6)
    build_world(embedded.settings, "flaky-2044", date(2044, 3, 4), crowd)
    embedded.mailbox.drops = [3, 1]
    now = day_before(date(2044, 3, 4))
    assert embedded.client.scan(now) == ["sent", "sent", "retry", "released", "released", "released"]
    rows = deliveries(embedded.settings, "flaky-2044")
    assert [(r.status, r.attempts) for r in rows] == [("sent", 1)] * 2 + [("pending", 1)] + [("pending", 0)] * 3
    assert rows[2].next_attempt_at == now + timedelta(minutes=1)
    assert embedded.client.scan(now + timedelta(seconds=5)) == ["sent"] * 3, "the given-back ones, at once"
    assert embedded.client.scan(now + timedelta(minutes=1, seconds=5)) == ["sent"], "the dropped one, after its backoff"
    mails = embedded.mailbox.wait_for("flaky-2044", 6)
    assert Counter(m.to for m in mails) == Counter({p.email: 1 for p in crowd})
    assert [(r.status, r.attempts) for r in deliveries(embedded.settings, "flaky-2044")] == [
        ("sent", 1),
        ("sent", 1),
        ("sent", 2),
        ("sent", 1),
        ("sent", 1),
        ("sent", 1),
    ]


def test_a_worker_killed_mid_batch_leaves_the_unsent_to_be_claimed_after_the_lease(tmp_path: Path) -> None:
    """A batch of three; the server has the second message and withholds its 250 when the worker is
    SIGKILLed. The first was recorded at its 250 and is never sent again; the second and third stay
    claimed until the lease is over, then a new worker sends them: the second arrives twice, byte-
    identical (the window docs/workers.md describes), the third once."""
    with running_mailbox() as box:
        data_dir = tmp_path / "data"
        parley = Parley("sqlite", data_dir, migrated_sqlite(data_dir), extra_env=smtp_env(box))
        settings = parley.settings()
        client = TaskClient(settings)
        workers: list[WorkerProcess] = []
        with stopped_at_exit(client, workers):
            crowd = people("killed", 3)
            build_world(settings, "killed-2045", date(2045, 3, 6), crowd)
            stall = box.stall(None, "DATA", nth=2)
            workers.append(WorkerProcess(parley, "--pool=solo", name="doomed"))
            now = day_before(date(2045, 3, 6))
            assert len(client.run("parley.reminders.scan", now=now.isoformat())["enqueued"]) == 3
            assert stall.reached.wait(30), "the batch never reached its second message"
            workers[-1].kill()
            stall.release.set()
            assert [r.status for r in deliveries(settings, "killed-2045")] == ["sent", "sending", "sending"]
            workers.append(WorkerProcess(parley, "--pool=solo", name="survivor"))
            assert client.scan(now + timedelta(minutes=9)) == [], "a live claim is respected"
            assert client.scan(now + timedelta(minutes=10, seconds=1)) == ["sent", "sent"]
            received = box.for_event("killed-2045")
            copies = Counter(m.to for m in received)
            first, second, third = (r.email for r in deliveries(settings, "killed-2045"))
            assert copies == Counter({first: 1, second: 2, third: 1})
            twice = [m.raw for m in received if m.to == second]
            assert twice[0] == twice[1], "the copy sent again is the same message"
            assert [r.attempts for r in deliveries(settings, "killed-2045")] == [1, 2, 2]


def test_one_connection_carries_the_messages_refusals_keep_it_and_a_drop_reopens_it_once(
    mailbox: Mailbox, sqlite_parley: Parley
) -> None:
    """The sender alone (no worker): a 550 fails one message and the connection goes on; a 421 closes
    it: connected again once, and a second 421 on the fresh connection gives up (``connection_lost``);
    a connection closed without a word after earlier messages is opened again and the message sent."""
    from email.message import EmailMessage

    from server.services.reminders import DeliveryError
    from workers.mail import SmtpConnection

    def message(to: str) -> EmailMessage:
        m = EmailMessage()
        m["From"], m["To"], m["Subject"], m["X-Parley-Reminder"] = "p@x.org", to, "s", "x 2031-03-03 attendees-24h"
        m.set_content("hello")
        return m

    settings = sqlite_parley.settings(smtp_host="127.0.0.1", smtp_port=mailbox.port, smtp_timeout=5)
    mailbox.refused["nobody@example.org"] = "550 5.1.1 No such user"
    mailbox.refused["closing@example.org"] = "421 4.3.2 Closing the connection"
    accepted: list[str] = []
    connection = SmtpConnection(settings)
    try:
        for to in ("a@example.org", "nobody@example.org", "b@example.org", "closing@example.org", "c@example.org"):
            try:
                connection.send(message(to), None, lambda to=to: accepted.append(to))  # type: ignore[misc]
            except DeliveryError as exc:
                accepted.append(f"{to}: {exc.code} permanent={exc.permanent} lost={exc.connection_lost}")
        mailbox.drops = [2]  # c's connection closes at its second message, d's
        connection.send(message("d@example.org"), None, lambda: accepted.append("d@example.org"))
    finally:
        connection.close()
    assert accepted == [
        "a@example.org",
        "nobody@example.org: 550 permanent=True lost=False",
        "b@example.org",
        "closing@example.org: 421 permanent=False lost=True",
        "c@example.org",
        "d@example.org",
    ]
    sessions = {r.to: r.session for r in mailbox.received}
    assert sessions["a@example.org"] == sessions["b@example.org"], "the 550 did not cost the connection"
    assert len({sessions["b@example.org"], sessions["c@example.org"], sessions["d@example.org"]}) == 3
    assert mailbox.attempts["closing@example.org"] == 2, "tried once more on a fresh connection, not again"
    assert [r.to for r in mailbox.received] == ["a@example.org", "b@example.org", "c@example.org", "d@example.org"]
