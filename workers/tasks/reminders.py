"""Reminder tasks: thin wrappers. Primitive arguments (ids, ISO instants), re-read by id, idempotent.

`now` (ISO 8601 with offset) stands in for the wall clock when given: tests and replays set the clock
explicitly instead of waiting; the scan passes its own `now` on to the sends it enqueues.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from celery import shared_task

from server.services import reminders
from server.services.auth import JoinLinks
from workers import mail, notices
from workers.celery_app import worker_resources


@shared_task(name="parley.reminders.scan", bind=True)
def scan(self: Any, now: str | None = None) -> dict[str, Any]:
    """Create the reminders that came due and enqueue one send per delivery ready to go."""
    resources = worker_resources(self.app)
    with resources.sessions.begin() as session:
        ids = reminders.scan(session, resources.now(now))
    tasks = [send.apply_async(kwargs={"delivery_id": i, "now": now}).id for i in ids]
    return {"enqueued": ids, "tasks": tasks}


# The time limits stay below reminders.CLAIM_LEASE (10 min): a send stuck in SMTP is stopped before
# another worker may take its claim over (prefork pool; the solo pool cannot enforce them).
@shared_task(name="parley.reminders.send", bind=True, soft_time_limit=240, time_limit=300)
def send(self: Any, delivery_id: int, now: str | None = None) -> str:
    """Claim, compose, send and record one delivery; a duplicate of this task finds nothing to claim."""
    resources = worker_resources(self.app)
    settings = resources.settings
    return reminders.deliver(
        resources.sessions,
        int(delivery_id),
        now=resources.now(now),
        links=JoinLinks(settings.resolved_secret_key()),
        base_url=settings.base_url,
        domain=mail.mail_domain(settings),
        compose=partial(notices.compose, settings=settings),
        send=mail.sender(settings),
    )
