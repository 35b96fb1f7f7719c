"""Certificates of attendance: the organisers' list, issue-now and zip; an attendee's own
certificates; and ``GET /verify/{code}``, public, as an HTML page or JSON.

The server never issues certificates: it enqueues ``parley.certificates.issue`` by name and reads
what the worker wrote (rows, and the zip under ``DATA_DIR/certificates/<slug>/``). An attendee's PDF
is drawn on request from the stored row (about a millisecond), the same bytes as in the zip.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import Field
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from server.entrypoints.http.auth import client_address, event_access
from server.entrypoints.http.openapi import ORGANISER_PROBLEMS, SLUG, Out, Param, Reply, Routes
from server.entrypoints.http.problems import Problem
from server.entrypoints.http.scopes import ScopeRequest, enqueue, requested_scope
from server.services import certificates
from server.services.access import Capability
from server.services.certificates import bundle, queries
from server.services.certificates.pdf import render
from server.services.certificates.throttle import VerifyThrottle

ISSUE_TASK = "parley.certificates.issue"
NOT_GENUINE = "not a genuine certificate"
VERIFY_HEADERS = {"Cache-Control": "no-store", "Vary": "Accept"}
PRIVATE = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}

api = Routes()


class IssueRequest(ScopeRequest):
    """The scope whose certificates to issue."""


class IssuedScope(Out):
    scope: str = Field(description="A morning (YYYY-MM-DD) or `event`.")
    issued_at: datetime
    count: int = Field(description="Certificates of this scope (attendees at or above the threshold).")
    threshold: float


class ZipFile(Out):
    url: str
    bytes: int


class CertificateList(Out):
    scopes: list[IssuedScope] = Field(
        description="The scopes issued so far; the others are not over or not scanned yet."
    )
    total: int
    zip: ZipFile | None = Field(description="Every certificate of the event, or null before the first is issued.")


class IssueQueued(Out):
    scope: str
    status: Literal["queued"]
    task_id: str


class OwnCertificate(Out):
    scope: str
    kind: Literal["morning", "event"]
    first_day: date
    last_day: date
    minutes: float
    code: str
    verify_url: str
    url: str = Field(description="The PDF.")


class OwnCertificates(Out):
    certificates: list[OwnCertificate]


class Verified(Out):
    genuine: Literal[True]
    code: str
    kind: Literal["morning", "event"]
    name: str
    organisation: str
    event: str = Field(description="The event's title as printed (in the certificate's language).")
    first_day: date
    last_day: date
    minutes: float
    threshold: float
    language: Literal["fr", "en", "es"]
    verify_url: str


def _verify_url(request: Request, code: str) -> str:
    return certificates.verify_url(request.state.settings.base_url, code)


@api.route(
    "GET",
    "/api/events/{slug}/certificates",
    summary="Certificates issued for an event (organisers)",
    tags=["certificates"],
    path=[SLUG],
    responses={200: Reply("The scopes issued, their counts, and the zip.", CertificateList)},
    problems=ORGANISER_PROBLEMS,
)
async def list_certificates(request: Request) -> Response:
    async with request.state.sessions() as session:
        event = (await event_access(request, session, Capability.MANAGE_CERTIFICATES)).event
        found = await queries.batches(session, event.id)
    path = bundle.zip_path(request.state.settings.data_dir, event.slug)
    size = await asyncio.to_thread(lambda: path.stat().st_size if path.is_file() else None)
    return JSONResponse(
        {
            "scopes": [
                {"scope": b.scope, "issued_at": b.issued_at.isoformat(), "count": b.count, "threshold": b.threshold}
                for b in found
            ],
            "total": sum(b.count for b in found),
            "zip": {"url": f"/api/events/{event.slug}/certificates/all.zip", "bytes": size}
            if size is not None
            else None,
        }
    )


@api.route(
    "POST",
    "/api/events/{slug}/certificates",
    summary="Issue the certificates of a morning or of the whole event now (organisers)",
    description="The worker issues each scope by itself within a minute of its end; this asks for it now, "
    "e.g. after attendance was corrected. Codes already handed out stay the same.",
    tags=["certificates"],
    path=[SLUG],
    body=IssueRequest,
    example={"scope": "2022-02-28"},
    responses={202: Reply("Queued.", IssueQueued, headers={"location": "The list of certificates."})},
    problems={
        **ORGANISER_PROBLEMS,
        404: "No such event, or no morning on that date.",
        409: "That morning (or some morning of the event) is not over.",
        422: "Scope is neither a date nor `event`.",
        503: "The task queue cannot be reached.",
    },
)
async def issue_certificates(request: Request) -> Response:
    asked = await requested_scope(request, Capability.MANAGE_CERTIFICATES, not_found_code="scope_not_found")
    if not asked.over or not asked.windows:
        raise Problem(409, f"{asked.scope}: certificates are issued once it is over", code="not_over")
    task_id = await enqueue(request, ISSUE_TASK, event_id=asked.event.id, scope=asked.scope)
    where = f"/api/events/{asked.event.slug}/certificates"
    return JSONResponse(
        {"scope": asked.scope, "status": "queued", "task_id": task_id}, status_code=202, headers={"Location": where}
    )


@api.route(
    "GET",
    "/api/events/{slug}/certificates/all.zip",
    summary="Every certificate of an event as one zip (organisers)",
    description="One PDF per certificate under a folder per scope, and `index.csv` (scope, name, "
    "organisation, language, minutes, code, verify URL, file).",
    tags=["certificates"],
    path=[SLUG],
    responses={
        200: Reply(
            "The zip.",
            media_types=("application/zip",),
            headers={"content-disposition": "attachment; filename=<slug>-certificates.zip"},
        )
    },
    problems={**ORGANISER_PROBLEMS, 404: "No such event, or no certificate issued yet."},
)
async def download_all(request: Request) -> Response:
    async with request.state.sessions() as session:
        event = (await event_access(request, session, Capability.MANAGE_CERTIFICATES)).event
    path = bundle.zip_path(request.state.settings.data_dir, event.slug)
    try:
        content = await asyncio.to_thread(path.read_bytes)  # one open: the whole old or the whole new file
    except FileNotFoundError:
        raise Problem(404, "no certificate has been issued for this event yet", code="no_certificates") from None
    return Response(
        content,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{event.slug}-certificates.zip"', **PRIVATE},
    )


@api.route(
    "GET",
    "/api/events/{slug}/certificates/mine",
    summary="The signed-in attendee's own certificates",
    description="An empty list until a morning the attendee attended is over.",
    tags=["certificates"],
    path=[SLUG],
    responses={200: Reply("Mornings in order, then the whole event.", OwnCertificates)},
    problems={401: "Not signed in.", 403: "Not an attendee of this event.", 404: "No such event."},
)
async def own_certificates(request: Request) -> Response:
    async with request.state.sessions() as session:
        access = await event_access(request, session, Capability.OWN_CERTIFICATES)
        mine = await queries.own(session, access.event.id, access.principal.id)
    slug = access.event.slug
    return JSONResponse(
        {
            "certificates": [
                {
                    "scope": p.scope,
                    "kind": "morning" if p.morning else "event",
                    "first_day": p.first_day.isoformat(),
                    "last_day": p.last_day.isoformat(),
                    "minutes": p.minutes,
                    "code": certificates.display(p.code),
                    "verify_url": _verify_url(request, p.code),
                    "url": f"/api/events/{slug}/certificates/mine/{p.scope}.pdf",
                }
                for p in mine
            ]
        },
        headers=PRIVATE,
    )


@api.route(
    "GET",
    "/api/events/{slug}/certificates/mine/{file}",
    summary="Download one of the signed-in attendee's certificates",
    tags=["certificates"],
    path=[SLUG, Param("file", "`<scope>.pdf`: a morning (YYYY-MM-DD) or `event`.", example="2022-02-28.pdf")],
    responses={
        200: Reply(
            "The one-page PDF, in the attendee's language.",
            media_types=("application/pdf",),
            headers={"content-disposition": "attachment; filename=certificate-<slug>-<scope>.pdf"},
        )
    },
    problems={
        401: "Not signed in.",
        403: "Not an attendee of this event.",
        404: "No such event, or no certificate of this attendee for that scope.",
    },
)
async def own_certificate_pdf(request: Request) -> Response:
    name = request.path_params["file"]
    scope = name.removesuffix(".pdf")
    async with request.state.sessions() as session:
        access = await event_access(request, session, Capability.OWN_CERTIFICATES)
        mine = await queries.own(session, access.event.id, access.principal.id)
    found = next((p for p in mine if p.scope == scope and name.endswith(".pdf")), None)
    if found is None:
        raise Problem(404, f"you have no certificate {name!r} for this event", code="no_certificate")
    content = await asyncio.to_thread(render, found, _verify_url(request, found.code))
    return Response(
        content,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="certificate-{access.event.slug}-{scope}.pdf"',
            **PRIVATE,
        },
    )


# -- verification: public ----------------------------------------------------------------------------


def _throttle(request: Request) -> VerifyThrottle:
    """Per process, on the app (see ``certificates.throttle``)."""
    throttle: VerifyThrottle | None = getattr(request.app.state, "verify_throttle", None)
    if throttle is None:
        settings = request.state.settings
        throttle = request.app.state.verify_throttle = VerifyThrottle(
            timedelta(seconds=settings.verify_window_s), settings.verify_max_failures_per_address
        )
    return throttle


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _verify_page(request: Request) -> Response:
    return FileResponse(
        request.app.state.frontend_dir / "verify.html",
        media_type="text/html",
        # the same URL answers JSON to the page's own request: no cache may hand one for the other
        headers={
            "Referrer-Policy": "no-referrer",
            "X-Robots-Tag": "noindex",
            "Vary": "Accept",
            "Cache-Control": "no-store",
        },
    )


@api.route(
    "GET",
    "/verify",
    summary="The page where anyone checks a certificate's code",
    tags=["certificates", "pages"],
    responses={200: Reply("HTML page with a form for the code.", media_types=("text/html",))},
)
async def verify_form(request: Request) -> Response:
    return _verify_page(request)


@api.route(
    "GET",
    "/verify/{code}",
    summary="Is this a genuine certificate? (public)",
    description="With `Accept: application/json` (and not `text/html`): the certificate as printed on it, and "
    "nothing else; otherwise the HTML page, which asks the same. Case, spaces, hyphens and the letters "
    "O, I, L for 0, 1, 1 do not matter. An unknown and a malformed code get the same 404. Unknown codes are "
    "counted per client address: past `PARLEY_VERIFY_MAX_FAILURES_PER_ADDRESS` within "
    "`PARLEY_VERIFY_WINDOW_S`, 429 with `Retry-After`.",
    tags=["certificates"],
    path=[Param("code", "The verification code printed on the certificate.", example="7KQ2M-0ABCD-EFGHJ-KMNPQ")],
    responses={
        200: Reply(
            "Genuine: what the certificate says (JSON); or the HTML page (which asks the same, as JSON).",
            Verified,
            media_types=("application/json", "text/html"),
        )
    },
    problems={
        404: "Not a genuine certificate (unknown or malformed code): `not_genuine`.",
        429: "Too many unknown codes from this address; `Retry-After` says when to try again.",
    },
)
async def verify(request: Request) -> Response:
    if not _wants_json(request):
        return _verify_page(request)
    throttle = _throttle(request)
    address = client_address(request)
    now = request.state.clock.now()
    wait = throttle.retry_after(address, now)
    if wait is not None:
        raise Problem(
            429,
            f"too many unknown codes; try again in {wait} s",
            code="too_many_attempts",
            headers={"Retry-After": str(wait), **VERIFY_HEADERS},
        )
    async with request.state.sessions() as session:
        found = await queries.by_code(session, request.path_params["code"])
    if found is None:
        throttle.failed(address, now)
        raise Problem(404, NOT_GENUINE, code="not_genuine", headers=VERIFY_HEADERS)
    return JSONResponse(found.public(_verify_url(request, found.code)), headers=VERIFY_HEADERS)


routes = api.routes
