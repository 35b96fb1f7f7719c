"""Organiser routes for registrations: list, CSV export, revoke a join link, issue a new one."""

from __future__ import annotations

import csv
import io

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.adapters.db.models import Registration
from server.entrypoints.http.auth import event_access, join_links, join_url
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


async def export_registrations(request: Request) -> Response:
    """
    summary: Registrations of an event as CSV (organisers)
    tags: [organisers]
    parameters:
      - {name: slug, in: path, required: true, schema: {type: string}}
      - {name: q, in: query, required: false, schema: {type: string}, description: the same search as the list}
    responses:
      200: {description: "text/csv, UTF-8 with a byte-order mark; text a spreadsheet would read as a formula is neutralised."}
      401: {description: Not signed in.}
      403: {description: Not an organiser of this event.}
      404: {description: No such event.}
    """
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


async def list_registrations(request: Request) -> Response:
    """
    summary: Registrations of an event (organisers)
    tags: [organisers]
    parameters:
      - {name: slug, in: path, required: true, schema: {type: string}}
      - {name: q, in: query, required: false, schema: {type: string}, description: search in name, email, organisation, country}
    responses:
      200: {description: The registrations.}
      401: {description: Not signed in.}
      403: {description: Not an organiser of this event.}
      404: {description: No such event.}
    """
    rows = await _registrations(request)
    return JSONResponse({"registrations": rows})


async def revoke_registration(request: Request) -> Response:
    """
    summary: Revoke a registration's join link (organisers)
    description: The link stops working and the attendee's open sockets close within seconds.
    tags: [organisers]
    parameters:
      - {name: slug, in: path, required: true, schema: {type: string}}
      - {name: id, in: path, required: true, schema: {type: integer}}
    responses:
      204: {description: Revoked.}
      401: {description: Not signed in.}
      403: {description: Not an organiser of this event.}
      404: {description: No such event, or no such registration in it.}
    """
    async with request.state.sessions() as session, session.begin():
        event = (await event_access(request, session, Capability.MANAGE_REGISTRATIONS)).event
        try:
            registration = await roster.registration_of(session, event.id, request.path_params["id"])
        except roster.RegistrationNotFound:
            raise Problem(404, "no such registration", code="not_found") from None
        await registrations.revoke(session, registration.id, now=request.state.clock.now())
    return Response(status_code=204)


async def reissue_link(request: Request) -> Response:
    """
    summary: A new join link for a registration (organisers)
    description: For a link that leaked. The old link stops working and every session it opened ends
      (as revoking does; open sockets close with 4401 within seconds); a revoked registration is reinstated.
    tags: [organisers]
    parameters:
      - {name: slug, in: path, required: true, schema: {type: string}}
      - {name: id, in: path, required: true, schema: {type: integer}}
    responses:
      200: {description: The new join link; the old one and its sessions no longer work.}
      401: {description: Not signed in.}
      403: {description: Not an organiser of this event.}
      404: {description: No such event, or no such registration in it.}
    """
    async with request.state.sessions() as session, session.begin():
        event = (await event_access(request, session, Capability.MANAGE_REGISTRATIONS)).event
        try:
            registration = await roster.registration_of(session, event.id, request.path_params["id"])
        except roster.RegistrationNotFound:
            raise Problem(404, "no such registration", code="not_found") from None
        token = await registrations.reissue(
            session, registration.id, join_links(request), now=request.state.clock.now()
        )
    return JSONResponse({"join_url": join_url(request, token)})


routes = [
    Route("/api/events/{slug}/registrations", list_registrations, methods=["GET"]),
    Route("/api/events/{slug}/registrations.csv", export_registrations, methods=["GET"]),
    Route("/api/events/{slug}/registrations/{id:int}/revoke", revoke_registration, methods=["POST"]),
    Route("/api/events/{slug}/registrations/{id:int}/link", reissue_link, methods=["POST"]),
]
