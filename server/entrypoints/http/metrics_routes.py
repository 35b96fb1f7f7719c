"""``GET /metrics``: Prometheus's text format, open or behind a bearer token (``PARLEY_METRICS_TOKEN``)."""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import Response

from server.adapters import metrics
from server.entrypoints.http.openapi import Reply, Routes
from server.entrypoints.http.problems import Problem

api = Routes()


@api.route(
    "GET",
    "/metrics",
    summary="Prometheus metrics",
    tags=["meta"],
    description="Counters, gauges and histograms of the live session and the Celery tasks (docs/metrics.md), "
    "summed over every process sharing PARLEY_METRICS_DIR. No personal data. With PARLEY_METRICS_TOKEN set, "
    "send it as `Authorization: Bearer <token>`.",
    responses={200: Reply("Prometheus text exposition format 0.0.4.", media_types=("text/plain",))},
    problems={401: "PARLEY_METRICS_TOKEN is set and the request did not carry it."},
)
async def prometheus_metrics(request: Request) -> Response:
    wanted = request.app.state.metrics_token
    if wanted:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), wanted.encode()):
            raise Problem(401, "a bearer token is needed for the metrics", headers={"WWW-Authenticate": "Bearer"})
    body, content_type = metrics.exposition()
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})


routes = api.routes
