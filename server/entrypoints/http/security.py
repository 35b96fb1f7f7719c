"""Security headers on every HTTP response, and no state-changing request from another site.

The pages load only their own scripts and styles (no inline code), so the policy can forbid
everything else; stream players are the one outside content, embedded in frames. Join and
sign-in links carry their token in the path: no Referer may leak it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.entrypoints.http.auth import COOKIE
from server.entrypoints.http.problems import problem_response

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-src http: https:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                ours = {name for name, _ in HEADERS}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in ours]
                message["headers"] = [*kept, *HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL, lower-cased as browsers send ``Origin``; None if it has none."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    netloc = parts.hostname if port is None or port == default else f"{parts.hostname}:{port}"
    return f"{parts.scheme.lower()}://{netloc.lower()}"


class SameOriginWrites:
    """Refuse (403 problem) a POST, PUT, PATCH or DELETE sent from a page of another site.

    ``SameSite=Lax`` alone lets a sibling subdomain, or any site on an older browser, post with the
    organiser's cookie. Browsers send ``Origin`` on every such request (same-origin fetches included),
    so it must be one of the allowed origins (PARLEY_ALLOWED_ORIGINS, default the server's own URL,
    the websocket's rule); ``Referer`` stands in when ``Origin`` is missing. A request carrying
    neither is refused only when the session cookie would authenticate it: scripts and the CLI use
    ``Authorization: Bearer``, which no other site can make a browser send.
    """

    def __init__(self, app: ASGIApp, origins: Iterable[str]) -> None:
        self.app = app
        self.origins = frozenset(o for o in (origin_of(origin) for origin in origins) if o)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(Headers(scope=scope))
        if refusal is None:
            await self.app(scope, receive, send)
            return
        response = problem_response(403, refusal, code="cross_site_request")
        await response(scope, receive, send)

    def refusal(self, headers: Headers) -> str | None:
        """Why the request is refused, or None when it may go on."""
        origin = headers.get("origin")
        if origin is not None:
            # "null" (a sandboxed frame, a redirect across sites) names no origin: never allowed
            if origin_of(origin) in self.origins:
                return None
            return f"requests from {origin[:100]!r} are not allowed here"
        referer = headers.get("referer")
        if referer is not None:
            if origin_of(referer) in self.origins:
                return None
            return "requests from another site are not allowed here"
        bearer = headers.get("authorization", "").lower().startswith("bearer ")
        if not bearer and COOKIE in cookie_parser(headers.get("cookie", "")):
            return "a request signed in by cookie must carry an Origin header"
        return None


_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class NoControlCharactersInPaths:
    """404 for a path holding a control character (``/api/events/%00``), before any route reads it.

    Slugs and file names come from the path and go into queries: PostgreSQL refuses NUL in text
    with an error, which would be a 500. No path of Parley holds a control character.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"} or not _CONTROL_CHARS.search(scope["path"]):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "no such path"})
            return
        await problem_response(404, "no such path", code="not_found")(scope, receive, send)
