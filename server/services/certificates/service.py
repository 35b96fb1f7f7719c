"""Issue certificates (worker side, a sync engine) and find the scopes that are due.

``issue`` builds the scope's report with the reports' own code (``reports.build``), takes the
attended rows (``derive.earned``), writes one ``certificates`` row per attendee who earned one (a
new random code the first time, the same code ever after), removes the rows of anyone the report no
longer marks as attended, records the batch, and rebuilds the organisers' zip. Only a scope that is
over (its report ``complete``) is issued: a certificate does not change once handed out unless the
recorded attendance itself is corrected. Issuing again with nothing new changes nothing, and gives
byte-identical PDFs and zip.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from server.adapters.db.models import Certificate, CertificateBatch, Day, Event
from server.core.languages import pick_text
from server.core.records import RecordError
from server.services import reports
from server.services.certificates import bundle
from server.services.certificates.codes import display, new_code
from server.services.certificates.derive import earned, scope_days
from server.services.certificates.model import EVENT_SCOPE, Printed
from server.services.reports.gather import read_programme
from server.services.reports.service import read_session
from server.services.reports.store import SLUG_RE
from server.services.reports.windows import morning_window

log = logging.getLogger("parley.certificates")
TITLE_MAX = 500
"""The `certificates.event_title` column's length."""


class NotOver(Exception):
    """The scope's report is not complete yet: no certificate before its mornings are over."""


@dataclass(frozen=True)
class Issued:
    slug: str
    scope: str
    count: int
    zip: Path
    drawn: int = 0
    """PDFs of the zip drawn anew (new or changed certificates); the rest were kept."""

    def as_json(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "scope": self.scope,
            "certificates": self.count,
            "zip": str(self.zip),
            "drawn": self.drawn,
        }


def verify_url(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/verify/{display(code)}"


def printed(row: Certificate) -> Printed:
    return Printed(
        code=row.code,
        scope=row.scope,
        name=row.name,
        organisation=row.organisation,
        language=row.language,
        event_title=row.event_title,
        first_day=row.first_day,
        last_day=row.last_day,
        minutes=row.minutes,
        threshold=row.threshold,
    )


@contextlib.contextmanager
def event_lock(data_dir: Path, slug: str) -> Iterator[None]:
    """One issuer per event at a time (the zip holds every scope): a second waits."""
    base = bundle.folder(data_dir, slug)
    base.mkdir(parents=True, exist_ok=True)
    with open(base / ".issue.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _store(session: Session, event: Event, report: reports.Report, now: datetime) -> int:
    """Write the scope's certificate rows and batch; returns how many there are."""
    scope = report.scope
    first, last = scope_days(report)
    existing = {
        row.registration_id: row
        for row in session.execute(
            select(Certificate).where(Certificate.event_id == event.id, Certificate.scope == scope)
        ).scalars()
    }
    people = earned(report)
    for person in people:
        fields = {
            "name": person.name,
            "organisation": person.organisation,
            "language": person.language,
            "event_title": (pick_text(event.title, [person.language])[0] or report.event_title)[:TITLE_MAX],
            "first_day": first,
            "last_day": last,
            "minutes": person.minutes,
            "threshold": report.threshold,
        }
        row = existing.pop(person.registration_id, None)
        if row is None:
            session.add(
                Certificate(
                    code=new_code(),
                    event_id=event.id,
                    registration_id=person.registration_id,
                    scope=scope,
                    issued_at=now,
                    **fields,
                )
            )
        elif any(getattr(row, key) != value for key, value in fields.items()):
            for key, value in fields.items():
                setattr(row, key, value)
            row.issued_at = now
    for row in existing.values():  # the corrected attendance no longer reaches the threshold
        session.delete(row)
    batch = session.get(CertificateBatch, (event.id, scope))
    if batch is None:
        session.add(
            CertificateBatch(
                event_id=event.id, scope=scope, issued_at=now, count=len(people), threshold=report.threshold
            )
        )
    else:
        batch.issued_at, batch.count, batch.threshold = now, len(people), report.threshold
    return len(people)


def issue(
    engine: Engine,
    data_dir: Path,
    event_id: int,
    scope: str,
    *,
    now: datetime,
    stale_after: timedelta,
    threshold: float,
    base_url: str,
) -> Issued:
    """Issue the certificates of ``scope`` (a morning or ``event``) from its report as of ``now``.

    Raises ``reports.UnknownScope`` / ``EventNotFound`` (``LookupError``) and ``NotOver``.
    """
    with read_session(engine) as session:
        report = reports.build(session, event_id, scope, now=now, stale_after=stale_after, threshold=threshold)
    if not report.complete:
        raise NotOver(f"{scope}: not over yet, no certificate before it is")
    with event_lock(data_dir, report.slug):
        with Session(engine, expire_on_commit=False) as session, session.begin():
            event = session.get(Event, event_id)
            if event is None:
                raise LookupError(f"no event {event_id}")
            count = _store(session, event, report, now)
        with Session(engine) as session:
            rows = [
                bundle.Row(row.registration_id, printed(row))
                for row in session.execute(select(Certificate).where(Certificate.event_id == event_id)).scalars()
            ]
        rebuilt = bundle.rebuild(data_dir, report.slug, rows, lambda code: verify_url(base_url, code))
    return Issued(report.slug, scope, count, rebuilt.path, rebuilt.drawn)


def due_scopes(session: Session, now: datetime) -> list[tuple[int, str, str]]:
    """(event id, slug, scope) of every scope whose mornings are over and whose certificates have
    not been issued: each morning, then the whole event once every morning is over."""
    due = []
    issued = {(e, s) for e, s in session.execute(select(CertificateBatch.event_id, CertificateBatch.scope))}
    for event_id, slug in session.execute(select(Event.id, Event.slug)).all():
        if not SLUG_RE.fullmatch(slug):
            continue
        days = session.execute(select(Day.date).where(Day.event_id == event_id)).scalars().all()
        pending = [d.isoformat() for d in days if (event_id, d.isoformat()) not in issued]
        event_pending = bool(days) and (event_id, EVENT_SCOPE) not in issued
        if not pending and not event_pending:
            continue
        try:
            programme = read_programme(session, event_id)
        except RecordError as exc:
            log.error("certificates of %s not scanned: %s", slug, exc)
            continue
        windows = {d.date.isoformat(): morning_window(d, programme.segments, now) for d in programme.days}
        due += [(event_id, slug, s) for s in pending if s in windows and windows[s].started and windows[s].final]
        if event_pending and windows and all(w.final for w in windows.values()):
            due.append((event_id, slug, EVENT_SCOPE))
    return due


def scan_due(
    engine: Engine, data_dir: Path, *, now: datetime, stale_after: timedelta, threshold: float, base_url: str
) -> list[Issued]:
    """Issue every due scope once (a failing one is logged; the others go on, the next scan retries it)."""
    with read_session(engine) as session:
        due = due_scopes(session, now)
    done = []
    for event_id, slug, scope in due:
        try:
            done.append(
                issue(
                    engine,
                    data_dir,
                    event_id,
                    scope,
                    now=now,
                    stale_after=stale_after,
                    threshold=threshold,
                    base_url=base_url,
                )
            )
        except (RecordError, LookupError, NotOver) as exc:
            log.error("certificates %s/%s not issued: %s", slug, scope, exc)
    return done
