"""Sending deliveries, many per task: claim them in one statement, read what their mails say once per
morning, then compose and send each through one sender (one SMTP connection) and record each the
moment the server has it. See docs/workers.md ("Batches").

Exactly once holds per delivery, as when each had its own task: every row is claimed with the same
conditional UPDATE (a duplicate task or a second worker claims nothing), a row is marked only while
it still carries this batch's claim token, and a worker killed mid-batch leaves its unsent rows
``sending``, claimable again after the lease.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from server.adapters.db.models import Day, Event, Registration, ReminderDelivery
from server.services.auth import JoinLinks
from server.services.reminders import notices
from server.services.reminders.deliveries import (
    Compose,
    DeliveryError,
    Morning,
    ReminderMail,
    Send,
    _calendar_sequence,
    _finish,
    _mail,
    _segments,
    _why_not,
    claimable,
    load_schedule,
    read_morning,
)
from server.services.reminders.notices import NoticeMail
from server.services.reminders.rules import MAX_ATTEMPTS, Schedule, retry_delay

log = logging.getLogger("parley.reminders")

BATCH_BUDGET_S = 120.0
"""Real seconds after which a batch starts no new mail and leaves the rest for the next scan: with
the SMTP timeout on the mail in flight, a batch ends well inside the task's time limits (4 and 5
minutes), themselves inside the claim's lease (10 minutes)."""


@dataclass(frozen=True)
class Ready:
    """A claimed delivery whose mail is read and due to go out."""

    delivery_id: int
    mail: ReminderMail | NoticeMail
    deadline: datetime  # a temporary failure after which no retry would arrive in time
    attempts: int


def claim_batch(session: Session, delivery_ids: Iterable[int], now: datetime) -> tuple[str, list[int]]:
    """Take every one of ``delivery_ids`` still to send, in one UPDATE, under one new claim token:
    (the token, the ids taken). A row another worker holds, or one already done, is not taken."""
    D = ReminderDelivery
    token = secrets.token_hex(16)
    claimed = session.scalars(
        update(D)
        .where(D.id.in_(sorted(set(delivery_ids))), claimable(now))
        .values(status="sending", claimed_at=now, claim_token=token, attempts=D.attempts + 1)
        .returning(D.id)
        .execution_options(synchronize_session=False)
    ).all()
    if claimed:
        session.execute(
            update(D)
            .where(D.id.in_(claimed), D.first_attempt_at.is_(None))
            .values(first_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
    return token, sorted(claimed)


def _read(
    session: Session,
    ids: list[int],
    token: str,
    *,
    now: datetime,
    links: JoinLinks,
    base_url: str,
    domain: str,
    outcomes: dict[int, str],
) -> list[Ready]:
    """The claimed rows' mails, reading each event, registration, morning and schedule once; a row
    that is not to be sent (morning started, registration revoked...) is recorded here, in the claim's
    transaction."""
    D = ReminderDelivery
    rows = session.scalars(select(D).where(D.id.in_(ids)).order_by(D.id)).all()
    events = {e.id: e for e in session.scalars(select(Event).where(Event.id.in_({r.event_id for r in rows})))}
    registration_ids = {r.registration_id for r in rows if r.registration_id}
    registrations = {
        r.id: r for r in session.scalars(select(Registration).where(Registration.id.in_(registration_ids)))
    }
    day_ids = {r.day_id for r in rows if r.day_id is not None}
    days = {d.id: d for d in session.scalars(select(Day).where(Day.id.in_(day_ids)))}
    schedules: dict[int, Schedule] = {}
    event_days: dict[int, list[Day]] = {}  # an undated mail's event: every morning, in date order
    mornings: dict[int, Morning] = {}
    sequences: dict[int, int] = {}

    def sequence_of(day: Day) -> int:
        if day.id not in sequences:
            sequences[day.id] = _calendar_sequence(session, day, _segments(session, day))
        return sequences[day.id]

    ready: list[Ready] = []
    for row in rows:
        event = events[row.event_id]
        registration = registrations.get(row.registration_id) if row.registration_id else None
        mail: ReminderMail | NoticeMail
        if row.day_id is None:  # a confirmation, a lost link, an organiser's message (notices.py)
            if event.id not in event_days:
                event_days[event.id] = list(
                    session.scalars(select(Day).where(Day.event_id == event.id).order_by(Day.date))
                )
            prepared = notices.prepare(
                session,
                row,
                event,
                registration,
                now=now,
                links=links,
                base_url=base_url,
                domain=domain,
                sequence_of=sequence_of,
                days=event_days[event.id],
            )
            verdict = prepared.verdict
            if verdict is None:
                assert prepared.mail is not None
                mail, deadline = prepared.mail, prepared.deadline
        else:
            day = days[row.day_id]
            if event.id not in schedules:
                schedules[event.id] = load_schedule(session, event.id)
            verdict = _why_not(row, day, schedules[event.id], registration, now)
            if verdict is None:
                if day.id not in mornings:
                    mornings[day.id] = read_morning(session, day)
                    sequences[day.id] = mornings[day.id].calendar_sequence
                mail = _mail(
                    session,
                    row,
                    event,
                    day,
                    registration,
                    links=links,
                    base_url=base_url,
                    domain=domain,
                    morning=mornings[day.id],
                )
                deadline = day.ends_at if row.resends else day.starts_at
        if verdict is not None:
            _finish(session, row.id, token, status=verdict[0], error=verdict[1], claim_token=None)
            outcomes[row.id] = verdict[0]
            continue
        ready.append(Ready(row.id, mail, deadline, row.attempts))
    return ready


def deliver_batch(
    sessions: sessionmaker[Session],
    delivery_ids: Sequence[int],
    *,
    now: datetime,
    links: JoinLinks,
    base_url: str,
    domain: str,
    compose: Compose,
    send: Send,
    budget_s: float = BATCH_BUDGET_S,
) -> list[str]:
    """Claim -> check -> (compose -> send -> mark) for each. Returns what happened to each id, in the
    order given: sent, retry, failed, expired, cancelled, not-claimed (another worker has it, or it is
    done), sent-late (see ``_send_one``) or released (not tried: the mail server was unreachable or
    the batch ran out of time; the next scan hands it out again)."""
    started = time.monotonic()
    outcomes = {int(i): "not-claimed" for i in delivery_ids}
    with sessions.begin() as session:
        token, claimed = claim_batch(session, outcomes, now)
        if not claimed:
            return [outcomes[int(i)] for i in delivery_ids]
        ready = _read(
            session, claimed, token, now=now, links=links, base_url=base_url, domain=domain, outcomes=outcomes
        )
    # the claims (and the rows not to send) are committed before the first mail goes out
    for index, item in enumerate(ready):
        if time.monotonic() - started > budget_s:
            _release(sessions, [r.delivery_id for r in ready[index:]], token, outcomes)
            break
        outcome, connection_lost = _send_one(sessions, item, token, now=now, compose=compose, send=send)
        outcomes[item.delivery_id] = outcome
        if connection_lost:
            _release(sessions, [r.delivery_id for r in ready[index + 1 :]], token, outcomes)
            break
    return [outcomes[int(i)] for i in delivery_ids]


def _release(sessions: sessionmaker[Session], ids: list[int], token: str, outcomes: dict[int, str]) -> None:
    """Give claimed rows that were not tried back, as they were: pending, this attempt not counted, to
    be enqueued by the next scan."""
    if not ids:
        return
    D = ReminderDelivery
    with sessions.begin() as session:
        released = session.scalars(
            update(D)
            .where(D.id.in_(ids), D.claim_token == token, D.status == "sending")
            .values(status="pending", attempts=D.attempts - 1, claim_token=None, enqueued_at=None)
            .returning(D.id)
            .execution_options(synchronize_session=False)
        ).all()
    for delivery_id in released:
        outcomes[delivery_id] = "released"
    log.info("%d deliveries left for the next scan", len(released))


def _send_one(
    sessions: sessionmaker[Session], item: Ready, token: str, *, now: datetime, compose: Compose, send: Send
) -> tuple[str, bool]:
    """Compose, send and record one claimed delivery: (its outcome, whether the mail server is lost)."""
    delivery_id, mail = item.delivery_id, item.mail
    marked: list[bool] = []

    def accepted() -> None:
        with sessions.begin() as session:
            marked.append(
                _finish(
                    session,
                    delivery_id,
                    token,
                    status="sent",
                    sent_at=now,
                    message_id=mail.message_id,
                    error=None,
                    claim_token=None,
                )
            )

    try:
        message = compose(mail)
    except Exception as exc:  # noqa: BLE001
        # Composing is deterministic: what fails once fails every time (a line break in a name stored
        # before names were checked, a header the mail cannot carry). Retrying cannot help, and a
        # pending row would be claimed again forever: record the failure and its reason.
        reason = f"could not compose the mail: {exc or type(exc).__name__}"
        log.warning("delivery %s: %s", delivery_id, reason)
        with sessions.begin() as session:
            _finish(session, delivery_id, token, status="failed", error=reason[:2000], claim_token=None)
        return "failed", False
    try:
        send(message, mail, accepted)
    except DeliveryError as exc:
        retry_at = now + retry_delay(item.attempts)
        if exc.permanent or item.attempts >= MAX_ATTEMPTS or retry_at >= item.deadline:
            status = "failed" if exc.permanent or item.attempts >= MAX_ATTEMPTS else "expired"
            with sessions.begin() as session:
                _finish(session, delivery_id, token, status=status, error=str(exc)[:2000], claim_token=None)
            return status, exc.connection_lost
        with sessions.begin() as session:
            _finish(
                session,
                delivery_id,
                token,
                status="pending",
                next_attempt_at=retry_at,
                enqueued_at=None,
                claim_token=None,
                error=str(exc)[:2000],
            )
        return "retry", exc.connection_lost
    if not marked:
        accepted()  # a sender that returned without saying so has handed the message over
    if not marked[0]:
        # Our lease ran out and another worker took the row: it may send the same Message-ID again.
        log.warning("delivery %s sent after its claim expired; another worker may resend it", delivery_id)
        return "sent-late", False
    return "sent", False


def deliver(
    sessions: sessionmaker[Session],
    delivery_id: int,
    *,
    now: datetime,
    links: JoinLinks,
    base_url: str,
    domain: str,
    compose: Compose,
    send: Send,
) -> str:
    """One delivery (an organiser's resend, a registration's confirmation): a batch of one."""
    (outcome,) = deliver_batch(
        sessions, [delivery_id], now=now, links=links, base_url=base_url, domain=domain, compose=compose, send=send
    )
    return outcome
