"""Organiser routes for reminders: what went out per morning and kind, resend one person's, edit the schedule."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.entrypoints.http.auth import event_access, json_body
from server.entrypoints.http.problems import Problem
from server.programme import parse_offset
from server.services import reminders
from server.services.access import Capability

SEND_TASK = "parley.reminders.send"


class ResendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    registration_id: int = Field(ge=1)
    day: date = Field(description="The morning, YYYY-MM-DD.")
    kind: str = Field(min_length=1, max_length=32, description='A reminder of the schedule, e.g. "attendees-24h".')


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


async def list_reminders(request: Request) -> Response:
    """
    summary: Reminders of an event, per morning and kind (organisers)
    description: For each morning and reminder of the schedule, when it is due and how many were due, sent, failed, pending and skipped (revoked, or its morning started first).
    tags: [organisers]
    parameters:
      - {name: slug, in: path, required: true, schema: {type: string}}
    responses:
      200: {description: '{"reminders": [{"day", "kind", "due", "sent", "failed", ...}], "schedule": {...}}'}
      401: {description: Not signed in.}
      403: {description: Not an organiser of this event.}
      404: {description: No such event.}
    """
    async with request.state.sessions() as session:
        event = (await event_access(request, session, Capability.MANAGE_REMINDERS)).event
        rows = await reminders.overview(session, event)
        schedule = await reminders.event_schedule(session, event.id)
    return JSONResponse({"reminders": rows, "schedule": schedule.labels()})


async def resend_reminder(request: Request) -> Response:
    """
    summary: Send one attendee's reminder again (organisers)
    description: A new copy (a new Message-ID) goes out within seconds, until the morning ends.
    tags: [organisers]
    parameters:
      - {name: slug, in: path, required: true, schema: {type: string}}
    requestBody:
      content:
        application/json:
          schema: {type: object, required: [registration_id, day, kind], properties: {registration_id: {type: integer}, day: {type: string, format: date}, kind: {type: string}}}
    responses:
      202: {description: 'Queued: {"delivery_id", "queued"}; queued false means the next minute''s scan sends it.'}
      401: {description: Not signed in.}
      403: {description: Not an organiser of this event.}
      404: {description: No such event, registration, morning or reminder.}
      409: {description: The morning is over, the link is revoked, or it is being sent right now.}
    """
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


async def set_reminder_schedule(request: Request) -> Response:
    """
    summary: Change the event's reminder schedule (organisers)
    description: Durations before each morning starts. Reminders already due keep their counts; a programme file with a reminders section replaces this on its next load.
    tags: [organisers]
    parameters:
      - {name: slug, in: path, required: true, schema: {type: string}}
    responses:
      200: {description: The schedule now in force.}
      401: {description: Not signed in.}
      403: {description: Not an organiser of this event.}
      422: {description: 'A duration is not like "24h", "45m" or "1h30m".'}
    """
    async with request.state.sessions() as session, session.begin():
        event = (await event_access(request, session, Capability.MANAGE_REMINDERS)).event
        body = await json_body(request, ScheduleIn)
        schedule = body.schedule()
        await reminders.set_schedule(session, event.id, schedule)
    return JSONResponse({"schedule": schedule.labels()})


routes = [
    Route("/api/events/{slug}/reminders", list_reminders, methods=["GET"]),
    Route("/api/events/{slug}/reminders/resend", resend_reminder, methods=["POST"]),
    Route("/api/events/{slug}/reminders/schedule", set_reminder_schedule, methods=["PUT"]),
]
