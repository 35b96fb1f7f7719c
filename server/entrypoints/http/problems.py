"""RFC 9457 problem details: every HTTP error leaves Parley as ``application/problem+json``."""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.services.access import AccessError, AccessForbidden, EventNotFound, NotSignedIn

log = logging.getLogger("parley.http")

TITLES = {
    400: "Bad request",
    401: "Not signed in",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


class Problem(Exception):
    """Raise from a route to answer with a problem document."""

    def __init__(
        self, status: int, detail: str, *, code: str | None = None, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code
        self.headers = headers  # e.g. Retry-After on a 429
        self.extra = extra


def problem_response(
    status: int, detail: str, *, code: str | None = None, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": TITLES.get(status, "Error"), "status": status}
    body["detail"] = detail
    if code:
        body["code"] = code
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


async def on_problem(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(exc.status, exc.detail, code=exc.code, headers=exc.headers, **exc.extra)


ACCESS_STATUS: dict[type[AccessError], int] = {NotSignedIn: 401, EventNotFound: 404, AccessForbidden: 403}


async def on_access_error(_request: Request, exc: Exception) -> Response:
    """A refusal of ``server.services.access``: 401, 404 or 403 with its stable ``code``."""
    assert isinstance(exc, AccessError)
    return problem_response(ACCESS_STATUS[type(exc)], exc.message, code=exc.code)


async def on_http_exception(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return problem_response(exc.status_code, exc.detail or TITLES.get(exc.status_code, "Error"))


async def on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(500, "An unexpected error occurred; it has been logged.")


EXCEPTION_HANDLERS = {
    Problem: on_problem,
    AccessError: on_access_error,
    HTTPException: on_http_exception,
    Exception: on_unexpected,
}
