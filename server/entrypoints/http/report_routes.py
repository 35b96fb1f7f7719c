"""Attendance reports for organisers (list, compile on demand, download) and the live timeline of a
morning for the organiser dashboard (organisers and moderators of the event).

The server never compiles: it enqueues ``parley.reports.compile`` by name (``TaskSender``) and
serves the files the workers wrote atomically under ``DATA_DIR/reports/<slug>/``.
"""

from __future__ import annotations

import asyncio
import time
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.entrypoints.http.auth import event_access, json_body
from server.entrypoints.http.problems import Problem
from server.services import reports
from server.services.access import Capability
from server.services.reports import store
from server.services.reports.gather import read_programme
from server.services.reports.windows import windows_for_scope

COMPILE_TASK = "parley.reports.compile"
TIMELINE_TTL_LIVE_S = 10.0
TIMELINE_TTL_FINAL_S = 600.0
TIMELINE_CACHE_SIZE = 64


class CompileRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scope: str = Field(pattern=r"^(event|\d{4}-\d{2}-\d{2})$", description="A morning (YYYY-MM-DD) or `event`.")


def _url(slug: str, scope: str, fmt: str) -> str:
    return f"/api/events/{slug}/reports/{scope}.{fmt}"


async def list_reports(request: Request) -> Response:
    """
    summary: Compiled attendance reports of an event (organisers)
    tags: [reports]
    parameters:
      - {name: slug, in: path, required: true, schema: {type: string}}
    responses:
      200: {description: "`{reports: [{scope, format, url, compiled_at, bytes, complete}]}`; `complete` is false for a report compiled while its morning was running."}
      401: {description: Not signed in.}
      403: {description: Not an organiser of this event.}
      404: {description: No such event.}
    """
    async with request.state.sessions() as session:
        event = (await event_access(request, session, Capability.MANAGE_REPORTS)).event
    found = await asyncio.to_thread(store.list_reports, request.state.settings.data_dir, event.slug)
    return JSONResponse(
        {
            "reports": [
                {
                    "scope": r.scope,
                    "format": r.format,
                    "url": _url(event.slug, r.scope, r.format),
                    "compiled_at": r.compiled_at.isoformat(),
                    "bytes": r.bytes,
                    "complete": r.complete,
                }
                for r in found
            ]
        }
    )


async def compile_report(request: Request) -> Response:
    """
    summary: Compile a report now (organisers)
    description: Enqueues the compilation of one morning (`YYYY-MM-DD`) or the whole event (`event`) in every format; the files appear in the list when the worker is done.
    tags: [reports]
    parameters:
      - {name: slug, in: path, required: true, schema: {type: string}}
    requestBody:
      content: {application/json: {schema: {type: object, properties: {scope: {type: string, example: "2022-02-28"}}, required: [scope]}}}
    responses:
      202: {description: Queued.}
      403: {description: Not an organiser of this event.}
      404: {description: No such event, or no morning on that date.}
      409: {description: That morning (or every morning of the event) has not begun.}
      422: {description: Scope is neither a date nor `event`.}
      503: {description: The task queue cannot be reached.}
    """
    async with request.state.sessions() as session:
        event = (await event_access(request, session, Capability.MANAGE_REPORTS)).event
        body = await json_body(request, CompileRequest)
        now = request.state.clock.now()
        programme = await session.run_sync(lambda sync: read_programme(sync, event.id))
    try:
        windows, _complete = windows_for_scope(body.scope, programme.days, programme.segments, now)
    except LookupError:
        raise Problem(404, f"{event.slug} has no morning on {body.scope}", code="report_not_found") from None
    if not any(w.started for w in windows):
        raise Problem(409, f"{body.scope}: nothing to report before the morning begins", code="not_begun")
    task_id = await request.state.tasks.send(COMPILE_TASK, event_id=event.id, scope=body.scope)
    if task_id is None:
        raise Problem(503, "the task queue cannot be reached; try again shortly", code="queue_unavailable")
    return JSONResponse(
        {"scope": body.scope, "status": "queued", "task_id": task_id, "reports": f"/api/events/{event.slug}/reports"},
        status_code=202,
        headers={"Location": f"/api/events/{event.slug}/reports"},
    )


async def download_report(request: Request) -> Response:
    """
    summary: Download a report file (organisers)
    tags: [reports]
    parameters:
      - {name: slug, in: path, required: true, schema: {type: string}}
      - {name: file, in: path, required: true, schema: {type: string, example: 2022-02-28.xlsx}, description: "`<scope>.<format>`, format one of csv.zip, xlsx, pdf."}
    responses:
      200: {description: The file (a zip of CSV files, an XLSX workbook or a PDF).}
      403: {description: Not an organiser of this event.}
      404: {description: Unknown scope or format, or not compiled yet.}
    """
    async with request.state.sessions() as session:
        event = (await event_access(request, session, Capability.MANAGE_REPORTS)).event
    name = request.path_params["file"]
    scope, _, fmt = name.partition(".")
    try:
        path = store.report_path(request.state.settings.data_dir, event.slug, scope, fmt)
    except ValueError:
        raise Problem(
            404, f"no report {name!r}: use <YYYY-MM-DD|event>.<csv.zip|xlsx|pdf>", code="report_not_found"
        ) from None
    try:
        content = await asyncio.to_thread(path.read_bytes)  # one open: the whole old or the whole new file
    except FileNotFoundError:
        raise Problem(404, f"report {name} has not been compiled", code="report_not_found") from None
    return Response(
        content,
        media_type=reports.MEDIA_TYPES[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{event.slug}-{scope}.{fmt}"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _timeline_cache(request: Request) -> dict[tuple[int, str], tuple[float, dict[str, Any]]]:
    """Per process, on the app: a dashboard polling every few seconds costs one computation per TTL."""
    cache: dict[tuple[int, str], tuple[float, dict[str, Any]]] | None = getattr(
        request.app.state, "report_timeline_cache", None
    )
    if cache is None:
        cache = request.app.state.report_timeline_cache = {}
    return cache


async def attendance_timeline(request: Request) -> Response:
    """
    summary: Attendees present per minute of one morning (organisers and moderators)
    tags: [reports]
    parameters:
      - {name: slug, in: path, required: true, schema: {type: string}}
      - {name: day, in: query, required: true, schema: {type: string, format: date}}
    responses:
      200: {description: "`{day, minutes: [{minute, present}], segments: [{id, title, unique_attendees, peak}]}`, minutes in the event's zone; up to now while the morning runs."}
      403: {description: Neither organiser nor moderator of this event.}
      404: {description: No morning on that day.}
      422: {description: "`day` missing or not YYYY-MM-DD."}
    """
    raw = request.query_params.get("day", "")
    async with request.state.sessions() as session:
        event = (await event_access(request, session, Capability.SEE_ATTENDANCE_TIMELINE)).event
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            raise Problem(
                422, "give ?day=YYYY-MM-DD", code="invalid", errors=[{"field": "day", "message": "a date YYYY-MM-DD"}]
            ) from None
        cache = _timeline_cache(request)
        key = (event.id, day.isoformat())
        cached = cache.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return JSONResponse(cached[1])
        now = request.state.clock.now()
        stale_after = request.state.live.timing.stale_after  # the sweep's rule
        try:
            data = await session.run_sync(
                lambda sync: reports.read_day(sync, event.id, day, now, stale_after=stale_after)
            )
        except reports.UnknownScope:
            raise Problem(404, f"{event.slug} has no morning on {day.isoformat()}", code="day_not_found") from None
    payload = await asyncio.to_thread(reports.day_timeline, data)  # CPU work off the event loop
    if len(cache) >= TIMELINE_CACHE_SIZE:
        cache.clear()
    ttl = TIMELINE_TTL_FINAL_S if data.window.final else TIMELINE_TTL_LIVE_S
    cache[key] = (time.monotonic() + ttl, payload)
    return JSONResponse(payload)


routes = [
    Route("/api/events/{slug}/reports", list_reports, methods=["GET"]),
    Route("/api/events/{slug}/reports", compile_report, methods=["POST"]),
    Route("/api/events/{slug}/reports/{file}", download_report, methods=["GET"]),
    Route("/api/events/{slug}/attendance/timeline", attendance_timeline, methods=["GET"]),
]
