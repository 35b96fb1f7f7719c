"""Bulk registration of an event: preview a delegation list, then register its valid rows at once.

Nothing is kept between the two steps: the commit takes the same file again and checks it again
(someone may have registered meanwhile), so a preview leaves no personal data behind on the server
and any replica can take the commit. The caller may pass the preview's ``sha256`` to make sure the
file committed is the file previewed.

The commit runs in the caller's transaction and saves every row through ``registrations.register``
(so each registration is made, and its join link mailed, exactly as one made alone); a row that
fails to save (someone registered the same email a moment ago) raises ``ImportConflict`` and the
caller's transaction saves nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.adapters.db.models import Registration
from server.services import registrations
from server.services.auth import JoinLinks
from server.services.bulk_registration.rows import CheckedRow, check_rows
from server.services.bulk_registration.sheets import Sheet, read_sheet


@dataclass(frozen=True)
class ImportLimits:
    max_bytes: int
    max_rows: int


@dataclass
class CheckedFile:
    sheet: Sheet
    rows: list[CheckedRow]
    sha256: str

    @property
    def valid(self) -> list[CheckedRow]:
        return [row for row in self.rows if row.valid]

    @property
    def invalid(self) -> list[CheckedRow]:
        return [row for row in self.rows if not row.valid]


@dataclass
class Committed:
    checked: CheckedFile
    created: list[tuple[CheckedRow, Registration]] = field(default_factory=list)


class FileChanged(Exception):
    """The file committed is not the file previewed."""


class ImportConflict(Exception):
    """A row could not be saved after all; nothing of the file is."""

    def __init__(self, line: int, email: str) -> None:
        super().__init__(f"line {line}: {email} was registered meanwhile; nothing was saved, preview the file again")
        self.line = line
        self.email = email


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def registered_emails(session: AsyncSession, event_id: int) -> set[str]:
    rows = await session.execute(select(Registration.email).where(Registration.event_id == event_id))
    return {email.lower() for email in rows.scalars()}


async def check_file(session: AsyncSession, event_id: int, data: bytes, limits: ImportLimits) -> CheckedFile:
    """Every row of the file and its problems; ``SheetError`` when the file as a whole is unreadable."""
    registered = await registered_emails(session, event_id)

    def work() -> CheckedFile:
        sheet = read_sheet(data, max_rows=limits.max_rows, max_bytes=limits.max_bytes)
        return CheckedFile(sheet=sheet, rows=check_rows(sheet, registered), sha256=sha256_of(data))

    # parsing a few thousand rows takes a moment of CPU: off the loop that serves the live sockets
    return await asyncio.to_thread(work)


async def commit(
    session: AsyncSession,
    slug: str,
    event_id: int,
    data: bytes,
    links: JoinLinks,
    *,
    now: datetime,
    limits: ImportLimits,
    expected_sha256: str | None = None,
) -> Committed:
    """Check the file again and register its valid rows in the caller's transaction."""
    if expected_sha256 is not None and expected_sha256.lower() != sha256_of(data):
        raise FileChanged("this is not the file that was previewed")
    checked = await check_file(session, event_id, data, limits)
    committed = Committed(checked)
    for row in checked.valid:
        assert row.registration is not None
        try:
            registration, _token = await registrations.register(session, slug, row.registration, links, now=now)
        except registrations.AlreadyRegistered:
            raise ImportConflict(row.line, row.registration.email) from None
        committed.created.append((row, registration))
    return committed
