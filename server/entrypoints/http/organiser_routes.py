"""Organiser routes for registrations: list, CSV export, revoke a join link, issue a new one."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.adapters.db.models import Event, Registration
from server.entrypoints.http.auth import require_principal
from server.entrypoints.http.auth_routes import join_url, links
from server.entrypoints.http.problems import Problem
from server.services import registrations
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


async def event_for_organiser(request: Request, session: object) -> Event:
    """The event of the path, when the signed-in principal organises it (401, 403 or 404 otherwise)."""
    principal = await require_principal(request)
    slug = request.path_params["slug"]
    event = (await session.execute(select(Event).where(Event.slug == slug))).scalar_one_or_none()  # type: ignore[attr-defined]
    if event is None:
        raise Problem(404, f"no event with slug {slug!r}", code="event_not_found")
    if principal.role_in(event.id) != "organiser":
        raise Problem(403, "only the event's organisers may do this", code="forbidden")
    return event


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
        event = await event_for_organiser(request, session)
        query = select(Registration).where(Registration.event_id == event.id).order_by(Registration.id)
        rows = [registration_json(r) for r in (await session.execute(query)).scalars()]
    q = request.query_params.get("q", "").strip().lower()
    if q:
        rows = [r for r in rows if any(q in str(r[f]).lower() for f in ("name", "email", "organisation", "country"))]
    return rows


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
      403: {description: Not an organiser of this event.}
      404: {description: No such registration in this event.}
    """
    async with request.state.sessions() as session, session.begin():
        event = await event_for_organiser(request, session)
        registration = await session.get(Registration, request.path_params["id"])
        if registration is None or registration.event_id != event.id:
            raise Problem(404, "no such registration", code="not_found")
        await registrations.revoke(session, registration.id)
    return Response(status_code=204)


async def reissue_link(request: Request) -> Response:
    """
    summary: A new join link for a registration (organisers)
    tags: [organisers]
    parameters:
      - {name: slug, in: path, required: true, schema: {type: string}}
      - {name: id, in: path, required: true, schema: {type: integer}}
    responses:
      200: {description: The new join link; the old one stops working.}
      403: {description: Not an organiser of this event.}
      404: {description: No such registration in this event.}
    """
    async with request.state.sessions() as session, session.begin():
        event = await event_for_organiser(request, session)
        registration = await session.get(Registration, request.path_params["id"])
        if registration is None or registration.event_id != event.id:
            raise Problem(404, "no such registration", code="not_found")
        token = await registrations.reissue(session, registration.id, links(request))
    return JSONResponse({"join_url": join_url(request, token)})


routes = [
    Route("/api/events/{slug}/registrations", list_registrations, methods=["GET"]),
    Route("/api/events/{slug}/registrations.csv", export_registrations, methods=["GET"]),
    Route("/api/events/{slug}/registrations/{id:id}/revoke", revoke_registration, methods=["POST"]),
    Route("/api/events/{slug}/registrations/{id:id}/link", reissue_link, methods=["POST"]),
]
