"""Request helpers shared by the route modules: the session cookie, the principal, the event a request
may use (``server/services/access.py`` decides), join links, JSON bodies with clear errors.

Route modules import from here, never from each other."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from server.entrypoints.http.problems import Problem
from server.services import access, auth
from server.services.sign_in_audit import Limits

COOKIE = "parley_session"
MAX_BODY = 64 * 1024

M = TypeVar("M", bound=BaseModel)


def session_token(conn: HTTPConnection) -> str | None:
    header = conn.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return conn.cookies.get(COOKIE)


async def current_principal(conn: HTTPConnection) -> auth.Principal | None:
    token = session_token(conn)
    if not token:
        return None
    async with conn.state.sessions() as session:
        return await auth.principal_for_token(session, token, now=conn.state.clock.now())


async def require_principal(request: Request) -> auth.Principal:
    """The signed-in principal; ``NotSignedIn`` (401) otherwise."""
    return access.signed_in(await current_principal(request))


async def event_access(request: Request, session: AsyncSession, capability: access.Capability) -> access.EventAccess:
    """The event of the path when the request's principal may use it for ``capability``.

    Raises ``access.AccessError`` (401, 404 or 403 problem JSON, see ``problems.py``). The principal is
    read in the route's own database session: one connection per request.
    """
    token = session_token(request)
    principal = await auth.principal_for_token(session, token, now=request.state.clock.now()) if token else None
    return await access.event_for(session, principal, request.path_params["slug"], capability)


def join_links(request: Request) -> auth.JoinLinks:
    return auth.JoinLinks(request.state.settings.resolved_secret_key())


def join_url(request: Request, token: str) -> str:
    return f"{request.state.settings.base_url}/join/{token}"


def client_address(conn: HTTPConnection) -> str:
    """The peer's address (uvicorn puts the proxy's X-Forwarded-For there for trusted proxies)."""
    return conn.client.host if conn.client else ""


def sign_in_limits(conn: HTTPConnection) -> Limits:
    settings = conn.state.settings
    return Limits(
        window=timedelta(seconds=settings.sign_in_window_s),
        per_account=settings.sign_in_max_failures_per_account,
        per_address=settings.sign_in_max_failures_per_address,
    )


async def json_body(request: Request, model: type[M]) -> M:
    """Parse a JSON body into ``model``; 415/413/400/422 problems otherwise (never a 500)."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise Problem(415, "send a JSON body with Content-Type: application/json", code="unsupported_media_type")
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise Problem(413, f"body larger than {MAX_BODY} bytes", code="too_large")
    try:
        data: Any = json.loads(raw or b"null")
    except ValueError as exc:  # UnicodeDecodeError included
        raise Problem(400, f"malformed JSON: {exc}", code="bad_json") from None
    except RecursionError:  # 40 KB of "[" fits under the cap and is deeper than Python's stack
        raise Problem(400, "malformed JSON: nested too deeply", code="bad_json") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in err["loc"]) or "(body)", "message": err["msg"]}
            for err in exc.errors(include_url=False)
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise Problem(422, detail, code="invalid", errors=errors) from None


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=auth.SESSION_DAYS * 86400,
        httponly=True,
        samesite="lax",
        secure=request.state.settings.base_url.startswith("https://"),
        path="/",
    )
