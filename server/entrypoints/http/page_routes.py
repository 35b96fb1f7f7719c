"""The HTML pages of the browser frontend (``frontend/``): one static file per page, the data comes
from the JSON API and the websocket. ``/join/{token}`` and ``/signin/{token}`` are served by
``auth_routes``; the rest of ``frontend/`` (scripts, styles) by the static mount."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from server.entrypoints.http.openapi import SLUG, Reply, Routes

NO_STORE = {"Cache-Control": "no-store"}


def page(filename: str, *, cache: bool = True) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint serving ``frontend/filename``."""

    async def serve(request: Request) -> Response:
        headers = {} if cache else dict(NO_STORE)  # security headers: server/entrypoints/http/security.py
        return FileResponse(request.app.state.frontend_dir / filename, headers=headers, media_type="text/html")

    serve.__name__ = f"page_{filename.removesuffix('.html')}"
    return serve


api = Routes()
for url, filename, cache, path in (
    ("/events/{slug}", "event.html", True, [SLUG]),
    ("/moderate/{slug}", "moderate.html", True, [SLUG]),
    ("/organise/{slug}", "organise.html", True, [SLUG]),
    ("/login", "login.html", False, []),
):
    api.route(
        "GET",
        url,
        summary=f"The {filename} page of the browser frontend",
        tags=["pages"],
        path=path,
        responses={
            200: Reply("HTML page; the data comes from the JSON API and the websocket.", media_types=("text/html",))
        },
    )(page(filename, cache=cache))
routes = api.routes
