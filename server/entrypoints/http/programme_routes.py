"""Read-only programme routes and health probes."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.entrypoints.http.openapi import SLUG, Out, Reply, Routes
from server.entrypoints.http.problems import Problem, problem_response
from server.services import programmes

PROBE_TIMEOUT_S = 2.0

api = Routes()
Localised = dict[str, str]  # a text per language code


class EventSummary(Out):
    id: int
    slug: str
    title: Localised
    timezone: str = Field(description="IANA time zone of the event.")
    first_day: date | None
    last_day: date | None
    url: str = Field(description="Path of the event's programme.")


class EventList(Out):
    events: list[EventSummary]


class Person(Out):
    id: int
    role: Literal["moderator", "speaker"]
    name: str
    title: str | None
    affiliation: str | None
    video_message: bool


class Segment(Out):
    id: int
    key: str
    kind: Literal["opening", "panel", "closing"]
    title: Localised
    starts_at: datetime = Field(description="ISO 8601 with the event's UTC offset.")
    ends_at: datetime
    timezone: str
    people: list[Person]


class Day(Out):
    date: date
    title: Localised
    theme: Localised
    starts_at: datetime
    ends_at: datetime
    segments: list[Segment]


class Programme(Out):
    slug: str
    title: Localised
    timezone: str
    languages: list[str]
    streams: dict[str, Any] = Field(description="Stream player URLs per language.")
    days: list[Day]
    statement_max_chars: int = Field(
        description="Most characters of a written statement in this deployment (`PARLEY_STATEMENT_MAX_CHARS`)."
    )


class Health(Out):
    status: Literal["ok"]


class Ready(Out):
    status: Literal["ready"]
    checks: dict[str, str] = Field(description='Per dependency, "ok".')


@api.route(
    "GET",
    "/api/events",
    summary="List events",
    tags=["programme"],
    responses={200: Reply("Every event with its slug, title, time zone and first and last day.", EventList)},
)
async def list_events(request: Request) -> Response:
    async with request.state.sessions() as session:
        return JSONResponse({"events": await programmes.list_events(session)})


@api.route(
    "GET",
    "/api/events/{slug}",
    summary="The whole programme of one event",
    tags=["programme"],
    path=[SLUG],
    responses={200: Reply("Days, segments with ISO 8601 instants (with UTC offset) and their people.", Programme)},
    problems={404: "No event with that slug."},
)
async def get_event(request: Request) -> Response:
    slug = request.path_params["slug"]
    async with request.state.sessions() as session:
        try:
            document = await programmes.programme_document(session, slug)
        except programmes.EventNotFound:
            raise Problem(404, f"no event with slug {slug!r}", code="event_not_found") from None
    return JSONResponse({**document, "statement_max_chars": request.state.settings.statement_max_chars})


@api.route(
    "GET",
    "/healthz",
    summary="Liveness",
    tags=["health"],
    responses={200: Reply("The process answers; no dependency is touched.", Health)},
)
async def healthz(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


@api.route(
    "GET",
    "/readyz",
    summary="Readiness",
    tags=["health"],
    responses={200: Reply("The database (and Redis when configured) answer.", Ready)},
    problems={503: "A dependency is down; `checks` says which and why."},
)
async def readyz(request: Request) -> Response:
    checks: dict[str, str] = {}

    async def database() -> None:
        async with request.state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    probes = {"database": database}
    redis = getattr(request.state, "redis", None)
    if redis is not None:

        async def redis_ping() -> None:
            await redis.ping()

        probes["redis"] = redis_ping
    for name, probe in probes.items():
        try:
            await asyncio.wait_for(probe(), PROBE_TIMEOUT_S)
            checks[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure means not ready; the reason is reported
            checks[name] = f"{type(exc).__name__}: {exc}"[:300] or type(exc).__name__
    failed = {k: v for k, v in checks.items() if v != "ok"}
    if failed:
        detail = "; ".join(f"{k}: {v}" for k, v in failed.items())
        return problem_response(503, detail, code="not_ready", checks=checks)
    return JSONResponse({"status": "ready", "checks": checks})


routes = api.routes
