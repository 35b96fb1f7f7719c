"""The approved written statements of an event, for anyone: what the event page shows a visitor who
is not signed in (``GET /api/events/{slug}/statements``, docs/statements.md).

They are read from the stored live state, where ``statement.published`` put them: the same
records the live public channel sends in ``public.statements.published``. Pending and rejected
statements live in the staff part of the state and are never read here. Of each statement the
document keeps what a visitor reads on the page (author's name, organisation and "on behalf of",
language, text, when it was published), not the author's person reference nor when it was sent.

Reading never writes: an event whose live session never started has no stored state yet, and no
statements.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.adapters.db.models import Event, LiveStateRow
from server.core.model import PublicStatement
from server.core.records import decode_state, state_record
from server.services.programmes import EventNotFound

__all__ = ["EventNotFound", "PublishedStatements", "published_statements"]


@dataclass(frozen=True, slots=True)
class PublishedStatements:
    """The JSON document, and a validator of it (its hash) for ``ETag``."""

    body: bytes
    etag: str


def _statement(s: PublicStatement) -> dict[str, Any]:
    data = s.model_dump(mode="json")  # the wire's own formats (instants in UTC, as on the live channel)
    return {
        "id": data["id"],
        "segment_id": data["segment_id"],
        "author": {
            "name": data["author"]["name"],
            "organisation": data["author"]["organisation"],
            "on_behalf_of": data["author"]["on_behalf_of"],
        },
        "language": data["language"],
        "text": data["text"],
        "published_at": data["published_at"],
    }


async def published_statements(session: AsyncSession, slug: str) -> PublishedStatements:
    """The event's approved statements, segment by segment in schedule order; ``EventNotFound``."""
    event_id = (await session.execute(select(Event.id).where(Event.slug == slug))).scalar_one_or_none()
    if event_id is None:
        raise EventNotFound(slug)
    row = (
        await session.execute(select(LiveStateRow.state, LiveStateRow.format).where(LiveStateRow.event_id == event_id))
    ).one_or_none()
    segments: list[dict[str, Any]] = []
    if row is not None:
        public = decode_state(row.state, row.format, record=state_record(event_id)).public
        by_segment: dict[int, list[PublicStatement]] = {}
        for statement in public.statements.published:  # by id, so in the order they were sent
            by_segment.setdefault(statement.segment_id, []).append(statement)
        schedule = {s.id: (s.starts_at, s.id) for s in public.segments}
        # a statement's segment is always in the state; one removed from the programme since sorts last
        order = sorted(by_segment, key=lambda i: (0, *schedule[i]) if i in schedule else (1, i))
        segments = [
            {"segment_id": segment_id, "statements": [_statement(s) for s in by_segment[segment_id]]}
            for segment_id in order
        ]
    document: dict[str, Any] = {"slug": slug, "segments": segments}
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return PublishedStatements(body=body, etag=etag)
