"""Mail routes: "I lost my link" (public) and organisers' messages to an audience of their event."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.core.model.base import OneLineText
from server.entrypoints.http.auth import client_address, event_access, json_body
from server.entrypoints.http.openapi import ID_RANGE, ORGANISER_PROBLEMS, SLUG, Out, Param, Reply, Routes
from server.entrypoints.http.problems import Problem
from server.services.access import Capability
from server.services.accounts import EMAIL_RE
from server.services.mail import lost_link, messages
from server.services.sign_in_audit import Limits

SCAN_TASK = "parley.reminders.scan"
LINK_ANSWER = "If this address is registered for the event, its join link is on its way by mail."

api = Routes()
MAILING = Param("id", "The message's id.", type=int, schema_extra=ID_RANGE)


class LostLinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    email: OneLineText = Field(min_length=3, max_length=254, description="The address registered for the event.")

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not EMAIL_RE.fullmatch(value.lower()):
            raise ValueError("not an email address")
        return value.lower()


class LostLinkOut(Out):
    status: Literal["accepted"]
    detail: str


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    audience: messages.AudienceIn


class PreviewOut(Out):
    recipients: int = Field(description="How many registrations (not revoked) the audience names now.")
    threshold: float = Field(description="The attendance threshold used for under_threshold (0..1).")


class MessageRow(Out):
    id: int
    created_at: datetime
    subject: dict[str, str]
    audience: dict[str, Any]
    recipients: int = Field(description="How many it was sent to (the audience when it was sent).")
    sent: int
    failed: int
    pending: int
    skipped: int = Field(description="Revoked meanwhile, or the event was over.")


class MessageList(Out):
    messages: list[MessageRow]
    languages: list[str] = Field(description="The event's languages: each needs a subject and a text.")


class MessageQueued(Out):
    id: int
    recipients: int
    queued: bool = Field(description="False: the broker was unreachable; the next minute's scan sends them.")


class ResendOut(Out):
    resent: int = Field(description="How many failed deliveries go out again.")
    queued: bool


def _limits(request: Request) -> Limits:
    settings = request.state.settings
    return Limits(
        window=timedelta(seconds=settings.lost_link_window_s),
        per_account=settings.lost_link_max_per_email,
        per_address=settings.lost_link_max_per_address,
    )


def _enqueue(request: Request, name: str, **kwargs: Any) -> BackgroundTask:
    """Enqueue after the answer is sent: the answer takes the same time whatever was queued."""
    return BackgroundTask(request.state.tasks.send, name, **kwargs)


@api.route(
    "POST",
    "/api/events/{slug}/lost-link",
    summary='"I lost my link": mail the join link again',
    description="The same answer, and the same work, whether or not the address is registered: the request is "
    "recorded and the workers mail a registered (not revoked) address its current join link; the old link keeps "
    "working. Throttled per address asked for and per client address.",
    tags=["attendees"],
    path=[SLUG],
    body=LostLinkIn,
    example={"email": "ada.example@example.org"},
    responses={202: Reply("Accepted (whether or not the address is registered).", LostLinkOut)},
    problems={404: "No such event.", 429: "Too many requests for this address or from this client: Retry-After."},
)
async def lost_link_request(request: Request) -> Response:
    body = await json_body(request, LostLinkIn)
    async with request.state.sessions() as session, session.begin():
        try:
            await lost_link.request_link(
                session,
                request.path_params["slug"],
                body.email,
                address=client_address(request),
                limits=_limits(request),
                now=request.state.clock.now(),
            )
        except lost_link.UnknownEvent:
            raise Problem(404, f"no event with slug {request.path_params['slug']!r}", code="event_not_found") from None
        except lost_link.TooManyRequests as exc:
            raise Problem(
                429, str(exc), code="too_many_requests", headers={"Retry-After": str(exc.retry_after)}
            ) from None
    # a scan takes the request (a registered address gets its link); enqueued for every address alike
    background = _enqueue(request, SCAN_TASK)
    return JSONResponse({"status": "accepted", "detail": LINK_ANSWER}, status_code=202, background=background)


def _audience_args(request: Request) -> dict[str, Any]:
    return {
        "now": request.state.clock.now(),
        "stale_after": request.state.live.timing.stale_after,  # the sweep's rule, as the reports
        "threshold": request.state.settings.report_attendance_threshold,
    }


@api.route(
    "GET",
    "/api/events/{slug}/messages",
    summary="Messages sent to the event's attendees, with counts (organisers)",
    tags=["organisers"],
    path=[SLUG],
    responses={200: Reply("Newest first, each with its counts of sent, failed, pending and skipped.", MessageList)},
    problems=ORGANISER_PROBLEMS,
)
async def list_messages(request: Request) -> Response:
    async with request.state.sessions() as session:
        event = (await event_access(request, session, Capability.SEND_MESSAGES)).event
        rows = await messages.overview(session, event)
    return JSONResponse({"messages": rows, "languages": list(event.languages)})


@api.route(
    "POST",
    "/api/events/{slug}/messages/preview",
    summary="How many people an audience names now (organisers)",
    tags=["organisers"],
    path=[SLUG],
    body=PreviewIn,
    example={"audience": {"kind": "category", "category": "member_state"}},
    responses={200: Reply("The count of recipients.", PreviewOut)},
    problems={**ORGANISER_PROBLEMS, 404: "No such event, or no morning on that day."},
)
async def preview_message(request: Request) -> Response:
    async with request.state.sessions() as session:
        event = (await event_access(request, session, Capability.SEND_MESSAGES)).event
        body = await json_body(request, PreviewIn)
        args = _audience_args(request)
        try:
            chosen = await messages.audience_of(session, event, body.audience, **args)
        except messages.MessageNotFound as exc:
            raise Problem(404, str(exc), code="day_not_found") from None
    return JSONResponse({"recipients": len(chosen), "threshold": args["threshold"]})


@api.route(
    "POST",
    "/api/events/{slug}/messages",
    summary="Send a message to an audience of the event (organisers)",
    description="A subject and a text in each of the event's languages; each recipient gets it once, in their "
    "language, with their personal join link, through the workers.",
    tags=["organisers"],
    path=[SLUG],
    body=messages.MessageIn,
    example={
        "subject": {"en": "Change of room", "fr": "Changement de salle", "es": "Cambio de sala"},
        "text": {
            "en": "The second morning starts at 9:30.",
            "fr": "La deuxième matinée commence à 9 h 30.",
            "es": "La segunda mañana empieza a las 9:30.",
        },
        "audience": {"kind": "everyone"},
    },
    responses={202: Reply("Queued for every recipient.", MessageQueued)},
    problems={
        **ORGANISER_PROBLEMS,
        404: "No such event, or no morning on that day.",
        422: "Invalid, or a language of the event without a subject or a text.",
    },
)
async def send_message(request: Request) -> Response:
    async with request.state.sessions() as session, session.begin():
        granted = await event_access(request, session, Capability.SEND_MESSAGES)
        body = await json_body(request, messages.MessageIn)
        try:
            mailing = await messages.send(
                session, granted.event, body, user_id=granted.principal.id, **_audience_args(request)
            )
        except messages.MessageInvalid as exc:
            field = str(exc).split(":", 1)[0]
            raise Problem(422, str(exc), code="invalid", errors=[{"field": field, "message": str(exc)}]) from None
        except messages.MessageNotFound as exc:
            raise Problem(404, str(exc), code="day_not_found") from None
        mailing_id, count = mailing.id, mailing.recipients
    task_id = await request.state.tasks.send(SCAN_TASK) if count else None
    return JSONResponse({"id": mailing_id, "recipients": count, "queued": task_id is not None}, status_code=202)


@api.route(
    "POST",
    "/api/events/{slug}/messages/{id:id}/resend",
    summary="Send a message again to those it failed for (organisers)",
    tags=["organisers"],
    path=[SLUG, MAILING],
    responses={202: Reply("The failed deliveries are pending again.", ResendOut)},
    problems={**ORGANISER_PROBLEMS, 404: "No such event or message."},
)
async def resend_message(request: Request) -> Response:
    async with request.state.sessions() as session, session.begin():
        event = (await event_access(request, session, Capability.SEND_MESSAGES)).event
        try:
            count = await messages.resend_failed(session, event, request.path_params["id"], request.state.clock.now())
        except messages.MessageNotFound as exc:
            raise Problem(404, str(exc), code="not_found") from None
    task_id = await request.state.tasks.send(SCAN_TASK) if count else None
    return JSONResponse({"resent": count, "queued": task_id is not None}, status_code=202)


routes = api.routes
