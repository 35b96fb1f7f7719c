"""Registration, join links, staff sign-in and sign-out."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from server.core.model.base import OneLineText
from server.entrypoints.http.auth import (
    COOKIE,
    client_address,
    join_links,
    join_url,
    json_body,
    require_principal,
    set_session_cookie,
    sign_in_limits,
)
from server.entrypoints.http.openapi import SLUG, Out, Param, Reply, Routes
from server.entrypoints.http.problems import Problem
from server.services import auth, registrations
from server.services.auth import AuthError
from server.services.mail import queue as mail_queue
from server.services.reminders.notices import CONFIRMATION

api = Routes()
TOKEN = Param("token", "The token of the link, as in the mailed URL.")
HTML = ("text/html",)
CONFIRMATION_TASK = "parley.reminders.send"
SESSION = {"set-cookie": "The session cookie `parley_session` (HttpOnly, SameSite=Lax)."}


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=10, max_length=500)


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: OneLineText = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1000)


class RegistrationOut(Out):
    id: int
    name: str
    email: str
    organisation: str
    category: registrations.Category
    country: str
    language: Literal["fr", "en", "es"]
    listed: bool
    timezone: str | None
    join_url: str = Field(description="The personal join link; it is also mailed.")


class LinkHolder(Out):
    name: str
    event: str = Field(description="The event's slug.")
    event_title: dict[str, str]


class AttendeeSignedIn(Out):
    signed_in: Literal["attendee"]
    name: str
    session_token: str = Field(description="Also set as the session cookie; send as `Authorization: Bearer`.")


class StaffSignedIn(Out):
    signed_in: Literal["staff"]
    session_token: str = Field(description="Also set as the session cookie; send as `Authorization: Bearer`.")


class Role(Out):
    event_id: int
    role: Literal["moderator", "organiser"]


class Me(Out):
    kind: Literal["attendee", "staff"]
    id: int = Field(description="The registration id of an attendee, the user id of staff.")
    name: str
    email: str
    event_id: int | None = Field(description="The event of an attendee; null for staff.")
    language: str
    roles: list[Role]


@api.route(
    "POST",
    "/api/events/{slug}/registrations",
    summary="Register for an event",
    tags=["attendees"],
    path=[SLUG],
    body=registrations.RegistrationIn,
    example={"name": "Ada Example", "email": "ada.example@example.org", "category": "academia", "language": "en"},
    responses={201: Reply("The registration and its personal join link.", RegistrationOut)},
    problems={404: "No such event.", 409: "This email is already registered for the event."},
)
async def register(request: Request) -> Response:
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
        confirmation = await mail_queue.undated_id(session, registration.event_id, registration.id, CONFIRMATION)
    body = {"id": registration.id, **data.model_dump(), "join_url": join_url(request, token)}
    # the confirmation was queued with the registration; the workers' scan would send it within a
    # minute, this sends it now (after the answer: a broker that is slow to answer does not delay it)
    send = BackgroundTask(request.state.tasks.send, CONFIRMATION_TASK, delivery_id=confirmation)
    return JSONResponse(body, status_code=201, background=send)


@api.route(
    "GET",
    "/join/{token}",
    summary="The join page of a personal link",
    description="Shows who is joining; a GET never uses the link up (mail scanners open links). "
    "The page POSTs to /api/join.",
    tags=["attendees"],
    path=[TOKEN],
    responses={200: Reply("HTML page.", media_types=HTML)},
)
async def join_page(request: Request) -> Response:
    return FileResponse(request.app.state.frontend_dir / "join.html", headers={"Cache-Control": "no-store"})


@api.route(
    "GET",
    "/signin/{token}",
    summary="The page of a one-time staff sign-in link",
    description="A GET never uses the link up; the page POSTs to /api/auth/link.",
    tags=["staff"],
    path=[TOKEN],
    responses={200: Reply("HTML page.", media_types=HTML)},
)
async def sign_in_page(request: Request) -> Response:
    return FileResponse(request.app.state.frontend_dir / "signin.html", headers={"Cache-Control": "no-store"})


@api.route(
    "POST",
    "/api/join/peek",
    summary="Who a join link is for",
    tags=["attendees"],
    body=TokenIn,
    responses={200: Reply("Name and event of the link; nothing is signed in.", LinkHolder)},
    problems={401: "Invalid or revoked link."},
)
async def peek(request: Request) -> Response:
    data = await json_body(request, TokenIn)
    async with request.state.sessions() as session:
        try:
            registration, event = await auth.peek_link(session, join_links(request), data.token)
        except AuthError as exc:
            raise Problem(401, exc.message, code=exc.code) from None
    return JSONResponse({"name": registration.name, "event": event.slug, "event_title": event.title})


@api.route(
    "POST",
    "/api/join",
    summary="Sign in with a personal join link",
    tags=["attendees"],
    body=TokenIn,
    responses={200: Reply("Signed in; the session cookie is set.", AttendeeSignedIn, headers=SESSION)},
    problems={401: "Invalid or revoked link."},
)
async def join(request: Request) -> Response:
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


@api.route(
    "POST",
    "/api/auth/login",
    summary="Staff sign-in with email and password",
    tags=["staff"],
    body=PasswordIn,
    responses={200: Reply("Signed in; the session cookie is set.", StaffSignedIn, headers=SESSION)},
    problems={
        401: "Unknown email or wrong password.",
        429: "Too many failed sign-ins for this account or from this address; `Retry-After` says when to try "
        "again (docs/security.md).",
    },
)
async def login(request: Request) -> Response:
    data = await json_body(request, PasswordIn)
    try:
        token = await auth.sign_in_password(
            request.state.sessions,
            data.email,
            data.password,
            address=client_address(request),
            limits=sign_in_limits(request),
            now=request.state.clock.now(),
        )
    except auth.SignInThrottled as exc:
        raise Problem(429, exc.message, code=exc.code, headers={"Retry-After": str(exc.retry_after)}) from None
    except AuthError as exc:
        raise Problem(401, exc.message, code=exc.code) from None
    response = JSONResponse({"signed_in": "staff", "session_token": token})
    set_session_cookie(request, response, token)
    return response


@api.route(
    "POST",
    "/api/auth/link",
    summary="Staff sign-in with a one-time link",
    tags=["staff"],
    body=TokenIn,
    responses={
        200: Reply("Signed in; the link is used up and the session cookie is set.", StaffSignedIn, headers=SESSION)
    },
    problems={401: "Unknown, used or expired link."},
)
async def sign_in_link(request: Request) -> Response:
    data = await json_body(request, TokenIn)
    async with request.state.sessions() as session, session.begin():
        try:
            token = await auth.sign_in_with_link(
                session, data.token, address=client_address(request), now=request.state.clock.now()
            )
        except AuthError as exc:
            raise Problem(401, exc.message, code=exc.code) from None
    response = JSONResponse({"signed_in": "staff", "session_token": token})
    set_session_cookie(request, response, token)
    return response


@api.route(
    "POST",
    "/api/auth/logout",
    summary="Sign out",
    description="Ends the session; its open websockets close within seconds.",
    tags=["staff", "attendees"],
    responses={204: Reply("Signed out; the cookie is cleared.")},
    problems={401: "Not signed in."},
)
async def logout(request: Request) -> Response:
    principal = await require_principal(request)
    async with request.state.sessions() as session, session.begin():
        await auth.sign_out(session, principal.session_id, now=request.state.clock.now())
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/")
    return response


@api.route(
    "GET",
    "/api/me",
    summary="Who is signed in",
    tags=["staff", "attendees"],
    responses={200: Reply("The principal and its roles.", Me)},
    problems={401: "Not signed in."},
)
async def me(request: Request) -> Response:
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


routes = api.routes
