"""What a request no route takes is answered, in front of the frontend's static files.

Without it the static files at ``/`` answered every such request: a POST to an API path with a
non-integer id (``{id:id}`` takes digits only) got a 405 without an ``Allow`` header, a status
the OpenAPI document cannot describe, and a known path asked with another method got the same 405
without saying which methods it has. Here, in order:

* a path some route has, asked with another method: 405 naming the allowed methods (``Allow``);
* any other ``/api/…`` path: 404 ``no_route``;
* anything else: the static files (404 when there is no such file).

Every answer of this module is problem JSON.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from server.entrypoints.http.problems import problem_response


class Unrouted:
    """The ASGI app mounted at ``/`` after every route."""

    def __init__(self, routes: list[BaseRoute], files: ASGIApp | None) -> None:
        self.routes = [r for r in routes if isinstance(r, Route)]
        self.files = files

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # a websocket to no endpoint: refuse the handshake
            await send({"type": "websocket.close", "code": 1008})
            return
        allowed: set[str] = set()
        for route in self.routes:
            if route.matches(scope)[0] is Match.PARTIAL:
                allowed |= route.methods or set()
        if allowed:
            response = problem_response(405, f"{scope['method']} is not allowed here", code="method_not_allowed")
            response.headers["allow"] = ", ".join(sorted(allowed))
        elif scope["path"].startswith("/api/") or self.files is None:
            response = problem_response(404, "no such route", code="no_route")
        else:
            await self.files(scope, receive, send)
            return
        await response(scope, receive, send)


def unrouted(routes: list[BaseRoute], files: ASGIApp | None) -> Mount:
    return Mount("/", app=Unrouted(routes, files), name="frontend")
