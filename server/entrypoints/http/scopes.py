"""What the organiser routes that act on a scope share: a morning (``YYYY-MM-DD``) or ``event``,
read from the body, resolved against the programme at the clock's now, and a task enqueued for it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request

from server.adapters.db.models import Event
from server.entrypoints.http.auth import event_access, json_body
from server.entrypoints.http.problems import Problem
from server.services.access import Capability
from server.services.reports.gather import read_programme
from server.services.reports.windows import MorningWindow, windows_for_scope


class ScopeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scope: str = Field(pattern=r"^(event|\d{4}-\d{2}-\d{2})$", description="A morning (YYYY-MM-DD) or `event`.")


@dataclass(frozen=True)
class Scope:
    event: Event
    scope: str
    windows: list[MorningWindow]  # the mornings of the scope that have begun
    over: bool  # every morning of the scope is final


async def requested_scope(request: Request, capability: Capability, *, not_found_code: str) -> Scope:
    """The event of the path (for ``capability``) and the scope of the body; a 404 problem with
    ``not_found_code`` for a date that is not one of its mornings."""
    async with request.state.sessions() as session:
        event = (await event_access(request, session, capability)).event
        body = await json_body(request, ScopeRequest)
        now = request.state.clock.now()
        programme = await session.run_sync(lambda sync: read_programme(sync, event.id))
    try:
        windows, over = windows_for_scope(body.scope, programme.days, programme.segments, now)
    except LookupError:
        raise Problem(404, f"{event.slug} has no morning on {body.scope}", code=not_found_code) from None
    return Scope(event, body.scope, windows, over)


async def enqueue(request: Request, task: str, **kwargs: Any) -> str:
    """The id of the task ``task(**kwargs)``, or a 503 problem when the task queue cannot be reached."""
    task_id: str | None = await request.state.tasks.send(task, **kwargs)
    if task_id is None:
        raise Problem(503, "the task queue cannot be reached; try again shortly", code="queue_unavailable")
    return task_id
