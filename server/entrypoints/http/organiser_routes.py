"""Organiser routes for registrations: list, CSV export, revoke a join link, issue a new one."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.adapters.db.models import Registration
from server.entrypoints.http.auth import event_access, join_links, join_url
from server.entrypoints.http.openapi import ID_RANGE, ORGANISER_PROBLEMS, SLUG, Out, Param, Reply, Routes
from server.entrypoints.http.problems import Problem
from server.services import registrations, roster
from server.services.access import Capability
from server.services.reports.cells import neutralise

CSV_COLUMNS = (
    "id",
    "name",
    "email",
    "organisation",
    "category",
    "country",
    "language",
    "listed",
    "timezone",
    "revoked",
    "registered_at",
)

api = Routes()
REGISTRATION_ID = Param("id", "The registration's id.", type=int, schema_extra=ID_RANGE)
SEARCH = Param("q", "Search in name, email, organisation and country.", required=False)


class RegistrationRow(Out):
    id: int
    name: str
    email: str
    organisation: str
    category: str
    country: str
    language: str
    listed: bool
    timezone: str | None
    revoked: bool = Field(description="The join link was revoked.")
    registered_at: datetime


class RegistrationList(Out):
    registrations: list[RegistrationRow]


class NewLink(Out):
    join_url: str


def registration_json(r: Registration) -> dict[str, object]:
    return {
        "id": r.id,
        "name": r.name,
        "email": r.email,
        "organisation": r.organisation,
        "category": r.category,
        "country": r.country,
        "language": r.language,
        "listed": r.listed,
        "timezone": r.timezone,
        "revoked": r.revoked_at is not None,
        "registered_at": r.created_at.isoformat(),
    }


async def _registrations(request: Request) -> list[dict[str, object]]:
    """The event's registrations as JSON rows, filtered by ``?q=`` (name, email, organisation, country)."""
    async with request.state.sessions() as session:
        event = (await event_access(request, session, Capability.MANAGE_REGISTRATIONS)).event
        found = await roster.registrations_of(session, event.id, request.query_params.get("q", ""))
        return [registration_json(r) for r in found]


@api.route(
    "GET",
    "/api/events/{slug}/registrations.csv",
    summary="Registrations of an event as CSV (organisers)",
    tags=["organisers"],
    path=[SLUG],
    query=[SEARCH],
    responses={
        200: Reply(
            "UTF-8 with a byte-order mark; text a spreadsheet would read as a formula is neutralised.",
            media_types=("text/csv",),
            headers={"content-disposition": "attachment; filename=<slug>-registrations.csv"},
        )
    },
    problems=ORGANISER_PROBLEMS,
)
async def export_registrations(request: Request) -> Response:
    rows = await _registrations(request)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    columns = list(CSV_COLUMNS)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([neutralise(str(row[c])) if isinstance(row[c], str) else row[c] for c in columns])
    slug = request.path_params["slug"]
    return Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{slug}-registrations.csv"'},
    )


@api.route(
    "GET",
    "/api/events/{slug}/registrations",
    summary="Registrations of an event (organisers)",
    tags=["organisers"],
    path=[SLUG],
    query=[SEARCH],
    responses={200: Reply("The registrations, oldest first.", RegistrationList)},
    problems=ORGANISER_PROBLEMS,
)
async def list_registrations(request: Request) -> Response:
    rows = await _registrations(request)
    return JSONResponse({"registrations": rows})


async def registration_in_path(request: Request, session: AsyncSession) -> Registration:
    """The registration ``{id}`` of the event ``{slug}``, for an organiser of that event."""
    event = (await event_access(request, session, Capability.MANAGE_REGISTRATIONS)).event
    try:
        return await roster.registration_of(session, event.id, request.path_params["id"])
    except roster.RegistrationNotFound:
        raise Problem(404, "no such registration", code="not_found") from None


@api.route(
    "POST",
    "/api/events/{slug}/registrations/{id:id}/revoke",
    summary="Revoke a registration's join link (organisers)",
    description="The link stops working and the attendee's open sockets close within seconds.",
    tags=["organisers"],
    path=[SLUG, REGISTRATION_ID],
    responses={204: Reply("Revoked.")},
    problems={**ORGANISER_PROBLEMS, 404: "No such event, or no such registration in it."},
)
async def revoke_registration(request: Request) -> Response:
    async with request.state.sessions() as session, session.begin():
        registration = await registration_in_path(request, session)
        await registrations.revoke(session, registration.id, now=request.state.clock.now())
    return Response(status_code=204)


@api.route(
    "POST",
    "/api/events/{slug}/registrations/{id:id}/link",
    summary="A new join link for a registration (organisers)",
    description="For a link that leaked. The old link stops working and every session it opened ends (as "
    "revoking does; open sockets close with 4401 within seconds); a revoked registration is reinstated.",
    tags=["organisers"],
    path=[SLUG, REGISTRATION_ID],
    responses={200: Reply("The new join link; the old one and its sessions no longer work.", NewLink)},
    problems={**ORGANISER_PROBLEMS, 404: "No such event, or no such registration in it."},
)
async def reissue_link(request: Request) -> Response:
    async with request.state.sessions() as session, session.begin():
        registration = await registration_in_path(request, session)
        token = await registrations.reissue(
            session, registration.id, join_links(request), now=request.state.clock.now()
        )
    return JSONResponse({"join_url": join_url(request, token)})


routes = api.routes
