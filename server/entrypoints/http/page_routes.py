"""The HTML pages of the browser frontend (``frontend/``): one static file per page, the data comes
from the JSON API and the websocket. ``/join/{token}`` and ``/signin/{token}`` are served by
``auth_routes``; the rest of ``frontend/`` (scripts, styles) by the static mount."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

NO_STORE = {"Cache-Control": "no-store"}


def page(filename: str, *, cache: bool = True) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint serving ``frontend/filename``, described in the OpenAPI document."""

    async def serve(request: Request) -> Response:
        headers = {} if cache else dict(NO_STORE)  # security headers: server/entrypoints/http/security.py
        return FileResponse(request.app.state.frontend_dir / filename, headers=headers, media_type="text/html")

    serve.__name__ = f"page_{filename.removesuffix('.html')}"
    serve.__doc__ = f"""
    summary: The {filename} page of the browser frontend
    tags: [pages]
    responses:
      200: {{description: HTML page.}}
    """
    return serve


routes = [
    Route("/events/{slug}", page("event.html"), methods=["GET"]),
    Route("/moderate/{slug}", page("moderate.html"), methods=["GET"]),
    Route("/organise/{slug}", page("organise.html"), methods=["GET"]),
    Route("/login", page("login.html", cache=False), methods=["GET"]),
]
