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
    """Create the reminders that came due and enqueue the deliveries ready to go, PARLEY_MAIL_BATCH a task."""
    resources = worker_resources(self.app)
    with resources.sessions.begin() as session:
        ids = reminders.scan(session, resources.now(now))
    size = resources.settings.mail_batch
    batches = [ids[i : i + size] for i in range(0, len(ids), size)]
    tasks = [send_batch.apply_async(kwargs={"delivery_ids": batch, "now": now}).id for batch in batches]
    return {"enqueued": ids, "tasks": tasks}


# The time limits stay below reminders.CLAIM_LEASE (10 min): a send stuck in SMTP is stopped before
# another worker may take its claim over (prefork pool; the solo pool cannot enforce them). A batch
# starts no new mail after reminders.BATCH_BUDGET_S (2 min), so it ends well inside them.
@shared_task(name="parley.reminders.send_batch", bind=True, soft_time_limit=240, time_limit=300)
def send_batch(self: Any, delivery_ids: list[int], now: str | None = None) -> list[str]:
    """Claim, compose, send (over one SMTP connection) and record each delivery; what happened to each,
    in order. A duplicate of this task, or another worker, finds nothing to claim."""
    return _deliver(self.app, [int(i) for i in delivery_ids], now)


@shared_task(name="parley.reminders.send", bind=True, soft_time_limit=240, time_limit=300)
def send(self: Any, delivery_id: int, now: str | None = None) -> str:
    """One delivery (a registration's confirmation, an organiser's resend): a batch of one."""
    return _deliver(self.app, [int(delivery_id)], now)[0]


def _deliver(app: Any, delivery_ids: list[int], now: str | None) -> list[str]:
    resources = worker_resources(app)
    settings = resources.settings
    sender = mail.sender(settings)
    try:
        return reminders.deliver_batch(
            resources.sessions,
            delivery_ids,
            now=resources.now(now),
            links=JoinLinks(settings.resolved_secret_key()),
            base_url=settings.base_url,
            domain=mail.mail_domain(settings),
            compose=partial(notices.compose, settings=settings),
            send=sender.send,
        )
    finally:
        sender.close()
