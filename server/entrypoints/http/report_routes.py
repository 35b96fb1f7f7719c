"""Attendance reports for organisers (list, compile on demand, download) and the live timeline of a
morning for the organiser dashboard (organisers and moderators of the event).

The server never compiles: it enqueues ``parley.reports.compile`` by name (``TaskSender``) and
serves the files the workers wrote atomically under ``DATA_DIR/reports/<slug>/``.
"""

from __future__ import annotations

import asyncio
import time
from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.entrypoints.http.auth import event_access
from server.entrypoints.http.openapi import ORGANISER_PROBLEMS, SLUG, Out, Param, Reply, Routes
from server.entrypoints.http.problems import Problem
from server.entrypoints.http.scopes import ScopeRequest, enqueue, requested_scope
from server.services import reports
from server.services.access import Capability
from server.services.reports import store

COMPILE_TASK = "parley.reports.compile"
TIMELINE_TTL_LIVE_S = 10.0
TIMELINE_TTL_FINAL_S = 600.0
TIMELINE_CACHE_SIZE = 64


class CompileRequest(ScopeRequest):
    """The scope to compile."""


api = Routes()


class ReportFile(Out):
    scope: str = Field(description="A morning (YYYY-MM-DD) or `event`.")
    format: str = Field(description="csv.zip, xlsx or pdf.")
    url: str
    compiled_at: datetime
    bytes: int
    complete: bool = Field(description="False for a report compiled while its morning was running.")


class ReportList(Out):
    reports: list[ReportFile]


class CompileQueued(Out):
    scope: str
    status: Literal["queued"]
    task_id: str
    reports: str = Field(description="Where the files will be listed.")


class MinutePresence(Out):
    minute: datetime = Field(description="In the event's zone.")
    present: int


class SegmentAttendance(Out):
    id: int
    title: str
    unique_attendees: int
    peak: int


class Timeline(Out):
    day: date
    minutes: list[MinutePresence]
    segments: list[SegmentAttendance]


def _url(slug: str, scope: str, fmt: str) -> str:
    return f"/api/events/{slug}/reports/{scope}.{fmt}"


@api.route(
    "GET",
    "/api/events/{slug}/reports",
    summary="Compiled attendance reports of an event (organisers)",
    tags=["reports"],
    path=[SLUG],
    responses={200: Reply("The compiled files.", ReportList)},
    problems=ORGANISER_PROBLEMS,
)
async def list_reports(request: Request) -> Response:
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


@api.route(
    "POST",
    "/api/events/{slug}/reports",
    summary="Compile a report now (organisers)",
    description="Enqueues the compilation of one morning (`YYYY-MM-DD`) or the whole event (`event`) in every "
    "format; the files appear in the list when the worker is done.",
    tags=["reports"],
    path=[SLUG],
    body=CompileRequest,
    example={"scope": "2022-02-28"},
    responses={202: Reply("Queued.", CompileQueued, headers={"location": "The list of reports."})},
    problems={
        **ORGANISER_PROBLEMS,
        404: "No such event, or no morning on that date.",
        409: "That morning (or every morning of the event) has not begun.",
        422: "Scope is neither a date nor `event`.",
        503: "The task queue cannot be reached.",
    },
)
async def compile_report(request: Request) -> Response:
    asked = await requested_scope(request, Capability.MANAGE_REPORTS, not_found_code="report_not_found")
    if not any(w.started for w in asked.windows):
        raise Problem(409, f"{asked.scope}: nothing to report before the morning begins", code="not_begun")
    task_id = await enqueue(request, COMPILE_TASK, event_id=asked.event.id, scope=asked.scope)
    where = f"/api/events/{asked.event.slug}/reports"
    return JSONResponse(
        {"scope": asked.scope, "status": "queued", "task_id": task_id, "reports": where},
        status_code=202,
        headers={"Location": where},
    )


@api.route(
    "GET",
    "/api/events/{slug}/reports/{file}",
    summary="Download a report file (organisers)",
    tags=["reports"],
    path=[SLUG, Param("file", "`<scope>.<format>`, format one of csv.zip, xlsx, pdf.", example="2022-02-28.xlsx")],
    responses={
        200: Reply(
            "The file: a zip of CSV files, an XLSX workbook or a PDF.",
            media_types=tuple(dict.fromkeys(reports.MEDIA_TYPES.values())),
            headers={"content-disposition": "attachment; filename=<slug>-<scope>.<format>"},
        )
    },
    problems={**ORGANISER_PROBLEMS, 404: "No such event, unknown scope or format, or not compiled yet."},
)
async def download_report(request: Request) -> Response:
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


@api.route(
    "GET",
    "/api/events/{slug}/attendance/timeline",
    summary="Attendees present per minute of one morning (organisers and moderators)",
    description="Minutes in the event's zone; up to now while the morning runs.",
    tags=["reports"],
    path=[SLUG],
    query=[Param("day", "The morning.", type=date)],
    responses={200: Reply("Presence per minute and per segment.", Timeline)},
    problems={
        401: "Not signed in.",
        403: "Neither organiser nor moderator of this event.",
        404: "No such event, or no morning on that day.",
        422: "`day` missing or not YYYY-MM-DD.",
    },
)
async def attendance_timeline(request: Request) -> Response:
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


routes = api.routes
