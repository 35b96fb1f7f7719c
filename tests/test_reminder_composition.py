"""A reminder that cannot be composed is marked failed with its reason, never left pending.

Registrations written before names were checked may hold line breaks; these rows are inserted directly
in the database, as such old data would be. The deliveries run exactly as the send task runs them (the
real composer and the outbox sender, on SQLite and on PostgreSQL).
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import partial

import pytest
from sqlalchemy.orm import sessionmaker

from server.adapters.db.engine import make_sync_engine
from server.services import reminders
from server.services.auth import JoinLinks
from tests.fixtures.celery import Attendee, build_world, deliveries
from tests.fixtures.parley import Parley
from workers import mail

SLUG = "broken-names-2031"


@pytest.mark.parametrize(
    "name",
    ["Eve\r\nBcc: everyone@example.org", "Évé\r\nBcc: everyone@example.org", "Eve\x1b[2J", "Eve\x85Bcc"],
    ids=["crlf-header", "crlf-encoded", "esc", "nel"],
)
def test_a_mail_that_cannot_be_composed_fails_with_its_reason(parley: Parley, name: str) -> None:
    settings = parley.settings()
    world = build_world(
        settings, SLUG, date(2031, 5, 6), [Attendee(name, "eve@example.org"), Attendee("Ada", "ada@example.org")]
    )
    engine = make_sync_engine(settings)
    sessions = sessionmaker(engine, expire_on_commit=False)
    now = world.starts[0] - timedelta(hours=24) + timedelta(seconds=5)

    def run_scan(at: object) -> list[str]:
        with sessions.begin() as session:
            ids = reminders.scan(session, at)  # type: ignore[arg-type]
        sender = mail.sender(settings)
        try:  # one batch: the mail that cannot be composed fails alone, the other goes out
            return reminders.deliver_batch(
                sessions,
                ids,
                now=at,  # type: ignore[arg-type]
                links=JoinLinks(settings.resolved_secret_key()),
                base_url=settings.base_url,
                domain=mail.mail_domain(settings),
                compose=partial(mail.compose_reminder, settings=settings),
                send=sender.send,
            )
        finally:
            sender.close()

    try:
        assert sorted(run_scan(now)) == ["failed", "sent"]
        rows = {row.email: row for row in deliveries(settings, SLUG)}
        failed = rows["eve@example.org"]
        assert failed.status == "failed" and failed.claim_token is None
        assert failed.error.startswith("could not compose the mail: the recipient's name holds a line break")
        assert rows["ada@example.org"].status == "sent"
        outbox = list((parley.data_dir / "outbox").glob("*.eml"))
        assert len(outbox) == 1 and b"Bcc" not in outbox[0].read_bytes()
        for later in (timedelta(minutes=15), timedelta(hours=1)):  # past the claim lease: nothing comes back
            assert run_scan(now + later) == []
        assert {row.email: row.status for row in deliveries(settings, SLUG)}["eve@example.org"] == "failed"
    finally:
        engine.dispose()
