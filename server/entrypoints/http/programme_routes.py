"""Read-only programme routes and health probes."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.entrypoints.http.problems import Problem, problem_response
from server.services import programmes

PROBE_TIMEOUT_S = 2.0


async def list_events(request: Request) -> Response:
    """
    summary: List events
    tags: [programme]
    responses:
      200:
        description: Every event with its slug, title, time zone and first and last day.
    """
    async with request.state.sessions() as session:
        return JSONResponse({"events": await programmes.list_events(session)})


async def get_event(request: Request) -> Response:
    """
    summary: The whole programme of one event
    tags: [programme]
    parameters:
      - {name: slug, in: path, required: true, schema: {type: string}}
    responses:
      200:
        description: Days, segments with ISO 8601 instants (with UTC offset) and their people embedded.
      404:
        description: No event with that slug (problem JSON).
    """
    slug = request.path_params["slug"]
    async with request.state.sessions() as session:
        try:
            return JSONResponse(await programmes.programme_document(session, slug))
        except programmes.EventNotFound:
            raise Problem(404, f"no event with slug {slug!r}", code="event_not_found") from None


async def healthz(_request: Request) -> Response:
    """
    summary: Liveness
    tags: [health]
    responses:
      200:
        description: The process answers; no dependency is touched.
    """
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """
    summary: Readiness
    tags: [health]
    responses:
      200:
        description: The database (and Redis when configured) answer.
      503:
        description: A dependency is down; `checks` says which and why.
    """
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


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/api/events", list_events, methods=["GET"]),
    Route("/api/events/{slug}", get_event, methods=["GET"]),
]
