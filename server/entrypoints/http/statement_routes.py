"""The approved written statements of an event, public and cacheable (docs/statements.md)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from server.entrypoints.http.openapi import JSON, SLUG, Out, Reply, Routes
from server.entrypoints.http.problems import Problem
from server.services import public_statements

MAX_AGE_S = 30
"""How long a browser or a proxy may keep the answer without asking again: an approval reaches a
visitor who is not signed in within this (the live page has it at once)."""
CACHE_CONTROL = f"public, max-age={MAX_AGE_S}"

api = Routes()


class PublishedStatementAuthor(Out):
    name: str
    organisation: str | None
    on_behalf_of: str | None = Field(description='The delegation the author spoke for ("on behalf of"), if given.')


class PublishedStatement(Out):
    id: int
    segment_id: int
    author: PublishedStatementAuthor
    language: str = Field(description="The language it was written in, a tag of the event's `languages`.")
    text: str = Field(description="As written; line breaks kept.")
    published_at: datetime = Field(description="When a moderator approved it (UTC).")


class SegmentStatements(Out):
    segment_id: int = Field(description="A segment `id` of the programme (`GET /api/events/{slug}`).")
    statements: list[PublishedStatement] = Field(description="In the order they were sent.")


class PublishedStatements(Out):
    slug: str
    segments: list[SegmentStatements] = Field(
        description="Only segments with an approved statement, in schedule order."
    )


def _matches(if_none_match: str | None, etag: str) -> bool:
    """``If-None-Match`` names the current representation (weak comparison, RFC 9110 13.1.2)."""
    if not if_none_match:
        return False
    tags = [tag.strip() for tag in if_none_match.split(",")]
    return "*" in tags or any(tag.removeprefix("W/") == etag for tag in tags)


@api.route(
    "GET",
    "/api/events/{slug}/statements",
    summary="The approved written statements, by segment",
    tags=["programme"],
    description=(
        "Public: what the live public channel publishes as `public.statements.published`, for visitors "
        "who are not signed in. Pending and rejected statements never appear."
    ),
    path=[SLUG],
    responses={
        200: Reply(
            "The approved statements under their segments; empty before any is approved.",
            PublishedStatements,
            headers={
                "ETag": "Changes when a statement is published.",
                "Cache-Control": f"`{CACHE_CONTROL}`.",
            },
        ),
        304: Reply(
            "`If-None-Match` names the current `ETag`: nothing was published since.",
            headers={"ETag": "The current one.", "Cache-Control": f"`{CACHE_CONTROL}`."},
        ),
    },
    problems={404: "No event with that slug."},
)
async def get_statements(request: Request) -> Response:
    slug = request.path_params["slug"]
    async with request.state.sessions() as session:
        try:
            found = await public_statements.published_statements(session, slug)
        except public_statements.EventNotFound:
            raise Problem(404, f"no event with slug {slug!r}", code="event_not_found") from None
    headers = {"ETag": found.etag, "Cache-Control": CACHE_CONTROL}
    if _matches(request.headers.get("if-none-match"), found.etag):
        return Response(status_code=304, headers=headers)
    return Response(found.body, media_type=JSON, headers=headers)


routes = api.routes
