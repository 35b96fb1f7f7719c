"""The workers' side of "I lost my link" (sync session, run by every scan).

The HTTP request only records itself (``lost_link_requests``), the same for every address, so its
answer and its timing say nothing about who is registered. Each scan takes the requests not handled
yet (an UPDATE … RETURNING: two scans at once never take the same one) and gives each registered,
not revoked address a new copy of its ``link`` delivery, which the same scan then hands out.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from server.adapters.db.models import Event, LostLinkRequest, Registration, ReminderDelivery
from server.services.reminders.notices import LINK, delivery_row, rearmed, undated_insert


def queue_link(session: Session, registration: Registration, languages: list[str], now: datetime) -> int:
    """The registration's ``link`` delivery, created or made a new copy; a copy still pending or being
    sent is left as it is (it is the one asked for). Its id."""
    session.execute(undated_insert(session.get_bind().dialect.name, [delivery_row(registration, languages, LINK, now)]))
    D = ReminderDelivery
    row = session.execute(
        select(D.id, D.status).where(
            D.recipient == f"reg:{registration.id}",
            D.event_id == registration.event_id,
            D.kind == LINK,
            D.day_id.is_(None),
        )
    ).one()
    if row.status not in ("pending", "sending"):
        session.execute(
            update(D).where(D.id == row.id, D.status == row.status).values(**rearmed(registration, languages, now))
        )
    return int(row.id)


def take_requests(session: Session, now: datetime) -> int:
    """Handle the link requests not handled yet; how many links were queued."""
    R = LostLinkRequest
    taken = session.execute(
        update(R).where(R.handled_at.is_(None)).values(handled_at=now).returning(R.event_id, R.email)
    )
    wanted = sorted({(event_id, email) for event_id, email in taken})
    queued = 0
    for event_id, email in wanted:
        registration = session.scalar(
            select(Registration).where(
                Registration.event_id == event_id,
                func.lower(Registration.email) == email,
                Registration.revoked_at.is_(None),
            )
        )
        if registration is None:
            continue
        languages = session.scalar(select(Event.languages).where(Event.id == event_id)) or []
        queue_link(session, registration, list(languages), now)
        queued += 1
    return queued
