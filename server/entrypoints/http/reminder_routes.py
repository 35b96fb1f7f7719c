"""Organiser routes for reminders: what went out per morning and kind, resend one person's, edit the schedule."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.core.model.base import Id, OneLineText
from server.entrypoints.http.auth import event_access, json_body
from server.entrypoints.http.openapi import ORGANISER_PROBLEMS, SLUG, Out, Reply, Routes
from server.entrypoints.http.problems import Problem
from server.programme import parse_offset
from server.services import reminders
from server.services.access import Capability

SEND_TASK = "parley.reminders.send"

api = Routes()


class ResendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    registration_id: Id
    day: date = Field(description="The morning, YYYY-MM-DD.")
    kind: OneLineText = Field(
        min_length=1, max_length=32, description='A reminder of the schedule, e.g. "attendees-24h".'
    )


class ScheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    attendees: list[str] = Field(max_length=8, description='Before each morning, e.g. ["24h", "15m"].')
    speakers: list[str] = Field(max_length=8, description='For moderators and speakers, e.g. ["24h", "45m"].')

    @field_validator("attendees", "speakers")
    @classmethod
    def _durations(cls, values: list[str]) -> list[str]:
        minutes = [parse_offset(value) for value in values]  # ValueError -> 422 naming the field
        if len(set(minutes)) != len(minutes):
            raise ValueError("a duration is given twice")
        return values

    def schedule(self) -> reminders.Schedule:
        return reminders.Schedule.from_offsets(
            {
                "attendees": [parse_offset(v) for v in self.attendees],
                "speakers": [parse_offset(v) for v in self.speakers],
            }
        )


class ReminderRow(Out):
    day: date
    kind: str = Field(description='e.g. "attendees-24h".')
    audience: Literal["attendees", "speakers"]
    due_at: datetime = Field(description="When it is due, in the event's zone.")
    due: int = Field(description="How many people it is due to.")
    sent: int
    failed: int
    pending: int
    skipped: int = Field(description="Revoked, or its morning started first.")


class ScheduleOut(Out):
    schedule: dict[str, list[str]] = Field(description='Per audience, durations before each morning, e.g. "24h".')


class ReminderOverview(ScheduleOut):
    reminders: list[ReminderRow]


class ResendQueued(Out):
    delivery_id: int
    queued: bool = Field(description="False: the next minute's scan sends it.")


@api.route(
    "GET",
    "/api/events/{slug}/reminders",
    summary="Reminders of an event, per morning and kind (organisers)",
    description="For each morning and reminder of the schedule, when it is due and how many were due, sent, "
    "failed, pending and skipped (revoked, or its morning started first).",
    tags=["organisers"],
    path=[SLUG],
    responses={200: Reply("The reminders and the schedule in force.", ReminderOverview)},
    problems=ORGANISER_PROBLEMS,
)
async def list_reminders(request: Request) -> Response:
    async with request.state.sessions() as session:
        event = (await event_access(request, session, Capability.MANAGE_REMINDERS)).event
        rows = await reminders.overview(session, event)
        schedule = await reminders.event_schedule(session, event.id)
    return JSONResponse({"reminders": rows, "schedule": schedule.labels()})


@api.route(
    "POST",
    "/api/events/{slug}/reminders/resend",
    summary="Send one attendee's reminder again (organisers)",
    description="A new copy (a new Message-ID) goes out within seconds, until the morning ends.",
    tags=["organisers"],
    path=[SLUG],
    body=ResendIn,
    example={"registration_id": 1, "day": "2022-02-28", "kind": "attendees-24h"},
    responses={202: Reply("Queued.", ResendQueued)},
    problems={
        **ORGANISER_PROBLEMS,
        404: "No such event, registration, morning or reminder.",
        409: "The morning is over, the link is revoked, or it is being sent right now.",
    },
)
async def resend_reminder(request: Request) -> Response:
    async with request.state.sessions() as session, session.begin():
        event = (await event_access(request, session, Capability.MANAGE_REMINDERS)).event
        body = await json_body(request, ResendIn)
        try:
            delivery_id = await reminders.request_resend(
                session, event, body.registration_id, body.day, body.kind, request.state.clock.now()
            )
        except reminders.ReminderNotFound as exc:
            raise Problem(404, str(exc), code="not_found") from None
        except reminders.ReminderConflict as exc:
            raise Problem(409, str(exc), code="conflict") from None
    task_id = await request.state.tasks.send(SEND_TASK, delivery_id=delivery_id)
    return JSONResponse({"delivery_id": delivery_id, "queued": task_id is not None}, status_code=202)


@api.route(
    "PUT",
    "/api/events/{slug}/reminders/schedule",
    summary="Change the event's reminder schedule (organisers)",
    description="Durations before each morning starts. Reminders already due keep their counts; a programme "
    "file with a reminders section replaces this on its next load.",
    tags=["organisers"],
    path=[SLUG],
    body=ScheduleIn,
    example={"attendees": ["24h", "15m"], "speakers": ["24h", "45m"]},
    responses={200: Reply("The schedule now in force.", ScheduleOut)},
    problems={**ORGANISER_PROBLEMS, 422: 'A duration is not like "24h", "45m" or "1h30m".'},
)
async def set_reminder_schedule(request: Request) -> Response:
    async with request.state.sessions() as session, session.begin():
        event = (await event_access(request, session, Capability.MANAGE_REMINDERS)).event
        body = await json_body(request, ScheduleIn)
        schedule = body.schedule()
        await reminders.set_schedule(session, event.id, schedule)
    return JSONResponse({"schedule": schedule.labels()})


routes = api.routes
