"""Registration, join links, staff sign-in and sign-out."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from server.entrypoints.http.auth import (
    COOKIE,
    join_links,
    join_url,
    json_body,
    require_principal,
    set_session_cookie,
)
from server.entrypoints.http.problems import Problem
from server.services import auth, registrations
from server.services.auth import AuthError


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=10, max_length=500)


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1000)


async def register(request: Request) -> Response:
    """
    summary: Register for an event
    tags: [attendees]
    parameters:
      - {name: slug, in: path, required: true, schema: {type: string}}
    requestBody:
      content:
        application/json:
          schema:
            type: object
            required: [name, email, category]
            properties:
              name: {type: string, maxLength: 200}
              email: {type: string}
              organisation: {type: string, maxLength: 200}
              category: {type: string, enum: [member_state, un_system, intergovernmental, civil_society, academia, media, other]}
              country: {type: string, maxLength: 100}
              language: {type: string, enum: [fr, en, es]}
              listed: {type: boolean, description: consent to appear in the participant list}
              timezone: {type: string, description: IANA time zone}
    responses:
      201: {description: "The registration and its personal join link."}
      404: {description: No such event.}
      409: {description: This email is already registered for the event.}
      422: {description: Invalid input; `errors` lists the fields.}
    """
    data = await json_body(request, registrations.RegistrationIn)
    async with request.state.sessions() as session, session.begin():
        try:
            registration, token = await registrations.register(
                session, request.path_params["slug"], data, join_links(request), now=request.state.clock.now()
            )
        except registrations.UnknownEvent:
            raise Problem(404, f"no event with slug {request.path_params['slug']!r}", code="event_not_found") from None
        except registrations.AlreadyRegistered:
            raise Problem(
                409, f"{data.email} is already registered for this event", code="already_registered"
            ) from None
    body = {"id": registration.id, **data.model_dump(), "join_url": join_url(request, token)}
    return JSONResponse(body, status_code=201)


async def join_page(request: Request) -> Response:
    """
    summary: The join page of a personal link
    description: Shows who is joining; a GET never uses the link up (mail scanners open links). The page POSTs to /api/join.
    tags: [attendees]
    parameters:
      - {name: token, in: path, required: true, schema: {type: string}}
    responses:
      200: {description: HTML page.}
    """
    return FileResponse(request.app.state.frontend_dir / "join.html", headers={"Cache-Control": "no-store"})


async def sign_in_page(request: Request) -> Response:
    """
    summary: The page of a one-time staff sign-in link
    description: A GET never uses the link up; the page POSTs to /api/auth/link.
    tags: [staff]
    parameters:
      - {name: token, in: path, required: true, schema: {type: string}}
    responses:
      200: {description: HTML page.}
    """
    return FileResponse(request.app.state.frontend_dir / "signin.html", headers={"Cache-Control": "no-store"})


async def peek(request: Request) -> Response:
    """
    summary: Who a join link is for
    tags: [attendees]
    requestBody:
      content:
        application/json:
          schema: {type: object, required: [token], properties: {token: {type: string}}}
    responses:
      200: {description: "Name and event of the link, nothing signed in."}
      401: {description: Invalid or revoked link.}
    """
    data = await json_body(request, TokenIn)
    async with request.state.sessions() as session:
        try:
            registration, event = await auth.peek_link(session, join_links(request), data.token)
        except AuthError as exc:
            raise Problem(401, exc.message, code=exc.code) from None
    return JSONResponse({"name": registration.name, "event": event.slug, "event_title": event.title})


async def join(request: Request) -> Response:
    """
    summary: Sign in with a personal join link
    tags: [attendees]
    requestBody:
      content:
        application/json:
          schema: {type: object, required: [token], properties: {token: {type: string}}}
    responses:
      200: {description: Signed in; the session cookie is set.}
      401: {description: Invalid or revoked link.}
    """
    data = await json_body(request, TokenIn)
    async with request.state.sessions() as session, session.begin():
        try:
            token, registration = await auth.join_with_link(
                session, join_links(request), data.token, now=request.state.clock.now()
            )
        except AuthError as exc:
            raise Problem(401, exc.message, code=exc.code) from None
    response = JSONResponse({"signed_in": "attendee", "name": registration.name, "session_token": token})
    set_session_cookie(request, response, token)
    return response


async def login(request: Request) -> Response:
    """
    summary: Staff sign-in with email and password
    tags: [staff]
    requestBody:
      content:
        application/json:
          schema: {type: object, required: [email, password], properties: {email: {type: string}, password: {type: string}}}
    responses:
      200: {description: Signed in; the session cookie is set.}
      401: {description: Unknown email or wrong password.}
    """
    data = await json_body(request, PasswordIn)
    async with request.state.sessions() as session, session.begin():
        try:
            token = await auth.sign_in_password(session, data.email, data.password, now=request.state.clock.now())
        except AuthError as exc:
            raise Problem(401, exc.message, code=exc.code) from None
    response = JSONResponse({"signed_in": "staff", "session_token": token})
    set_session_cookie(request, response, token)
    return response


async def sign_in_link(request: Request) -> Response:
    """
    summary: Staff sign-in with a one-time link
    tags: [staff]
    requestBody:
      content:
        application/json:
          schema: {type: object, required: [token], properties: {token: {type: string}}}
    responses:
      200: {description: Signed in; the link is used up.}
      401: {description: Unknown, used or expired link.}
    """
    data = await json_body(request, TokenIn)
    async with request.state.sessions() as session, session.begin():
        try:
            token = await auth.sign_in_with_link(session, data.token, now=request.state.clock.now())
        except AuthError as exc:
            raise Problem(401, exc.message, code=exc.code) from None
    response = JSONResponse({"signed_in": "staff", "session_token": token})
    set_session_cookie(request, response, token)
    return response


async def logout(request: Request) -> Response:
    """
    summary: Sign out
    description: Ends the session; its open websockets close within seconds.
    tags: [staff, attendees]
    responses:
      204: {description: Signed out.}
      401: {description: Not signed in.}
    """
    principal = await require_principal(request)
    async with request.state.sessions() as session, session.begin():
        await auth.sign_out(session, principal.session_id, now=request.state.clock.now())
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/")
    return response


async def me(request: Request) -> Response:
    """
    summary: Who is signed in
    tags: [staff, attendees]
    responses:
      200: {description: The principal and its roles.}
      401: {description: Not signed in.}
    """
    p = await require_principal(request)
    return JSONResponse(
        {
            "kind": p.kind,
            "id": p.id,
            "name": p.name,
            "email": p.email,
            "event_id": p.event_id,
            "language": p.language,
            "roles": [{"event_id": ev, "role": role} for ev, role in sorted(p.staff_roles)],
        }
    )


routes = [
    Route("/api/events/{slug}/registrations", register, methods=["POST"]),
    Route("/join/{token}", join_page, methods=["GET"]),
    Route("/signin/{token}", sign_in_page, methods=["GET"]),
    Route("/api/join/peek", peek, methods=["POST"]),
    Route("/api/join", join, methods=["POST"]),
    Route("/api/auth/login", login, methods=["POST"]),
    Route("/api/auth/link", sign_in_link, methods=["POST"]),
    Route("/api/auth/logout", logout, methods=["POST"]),
    Route("/api/me", me, methods=["GET"]),
]
