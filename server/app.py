"""The Starlette application, built by a factory; everything it holds lives in the lifespan state."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TypedDict

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.staticfiles import StaticFiles

from config.settings import Settings
from server.adapters import metrics
from server.adapters.bus import make_bus
from server.adapters.clock import Clock, clock_for
from server.adapters.db.engine import make_async_engine, make_sessionmaker
from server.adapters.tasks import TaskSender
from server.entrypoints.http import (
    auth_routes,
    certificate_routes,
    import_routes,
    mail_routes,
    metrics_routes,
    openapi,
    organiser_routes,
    page_routes,
    programme_routes,
    reminder_routes,
    report_routes,
    speaking_order_routes,
    statement_routes,
)
from server.entrypoints.http.fallback import unrouted
from server.entrypoints.http.problems import EXCEPTION_HANDLERS
from server.entrypoints.http.security import NoControlCharactersInPaths, SameOriginWrites, SecurityHeaders
from server.entrypoints.ws import endpoint as ws_endpoint
from server.entrypoints.ws.runtime import LiveRuntime, Timing

log = logging.getLogger("parley")

FRONTEND_DIR = Path(__file__).resolve().parent.parent / "frontend"

API_INFO = {"title": "Parley", "version": "0.1.0", "description": "Virtual conference hosting backend."}


class OpenApiDocument(openapi.Out):
    """Not described field by field here: tests/test_openapi.py validates it against the OpenAPI 3.1 schema."""

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]


class AppState(TypedDict):
    settings: Settings
    clock: Clock
    engine: AsyncEngine
    sessions: async_sessionmaker[Any]
    redis: Any
    live: LiveRuntime
    tasks: TaskSender


async def openapi_schema(request: Request) -> Response:
    return JSONResponse(request.app.state.openapi)


OPENAPI_SPEC = openapi.RouteSpec(
    method="GET",
    path="/openapi.json",
    endpoint=openapi_schema,
    summary="This OpenAPI document",
    tags=("meta",),
    responses={200: openapi.Reply("The OpenAPI 3.1 description of every HTTP route.", OpenApiDocument)},
)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> Starlette:
    """The application for ``settings``, on ``clock`` (default: the one the settings choose; the
    routes, the services and the live runtime all read this one, from the lifespan state)."""
    settings = settings or Settings()
    clock = clock or clock_for(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[AppState]:
        engine = make_async_engine(settings)
        sessions = make_sessionmaker(engine)
        redis = None
        if settings.redis_url:
            from redis.asyncio import Redis  # noqa: PLC0415 - the embedded mode never loads redis-py

            redis = Redis.from_url(settings.redis_url)
        bus = make_bus(settings.redis_url, channel_prefix=settings.bus_prefix)
        await bus.start()
        live = LiveRuntime(
            sessions,
            bus,
            clock=clock,
            timing=Timing(
                heartbeat_s=settings.heartbeat_s,
                idle_timeout_s=settings.idle_timeout_s,
                speed=settings.virtual_speed,
            ),
            statement_max_chars=settings.statement_max_chars,
        )
        await live.start()
        try:
            yield AppState(
                settings=settings,
                clock=clock,
                engine=engine,
                sessions=sessions,
                redis=redis,
                live=live,
                tasks=TaskSender(settings),
            )
        finally:
            await live.stop()
            await bus.close()
            if redis is not None:
                await redis.aclose()
            await engine.dispose()
            metrics.process_stopped(os.getpid())

    routes: list[Any] = [
        *programme_routes.routes,
        *auth_routes.routes,
        *organiser_routes.routes,
        *import_routes.routes,
        *reminder_routes.routes,
        *speaking_order_routes.routes,
        *statement_routes.routes,
        *mail_routes.routes,
        *report_routes.routes,
        *certificate_routes.routes,
        *metrics_routes.routes,
        *page_routes.routes,
        *ws_endpoint.routes,
        OPENAPI_SPEC.route(),
    ]
    files = StaticFiles(directory=FRONTEND_DIR, html=True) if FRONTEND_DIR.is_dir() else None
    routes.append(unrouted(list(routes), files))  # 405 with Allow, 404 for /api, else the static files
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[
            Middleware(ws_endpoint.LiveSockets),  # outermost: the live socket skips the HTTP layers
            Middleware(SecurityHeaders),
            Middleware(SameOriginWrites, origins=settings.origins),
            Middleware(NoControlCharactersInPaths),
        ],
    )
    app.state.frontend_dir = FRONTEND_DIR
    app.state.metrics_token = settings.metrics_token.get_secret_value()
    # Built once, here: an HTTP route without a spec stops the application from being built.
    app.state.openapi = openapi.document(app.routes, API_INFO)
    return app
