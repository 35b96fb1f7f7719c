"""A decision in progress: events are applied to the views as they are emitted.

The new state of a decision is, by construction, the old views with its events applied: the rule
handlers only validate and emit, they never edit a view directly. So the frontend, folding the
same events with the same apply rules, ends exactly where the server did.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal, NoReturn

from server.core.model import ErrorCode, Event, PublicState, StaffState
from server.core.state import CommandRejected, Emitted, LiveState

ApplyPublic = Callable[[PublicState, Event], PublicState]
ApplyStaff = Callable[[StaffState, Event], StaffState]
IdKind = Literal["entry", "question", "speech", "poll", "statement"]


class Transaction:
    def __init__(self, state: LiveState, *, now: datetime, apply_public: ApplyPublic, apply_staff: ApplyStaff) -> None:
        self.now = now
        self.public = state.public
        self.staff = state.staff
        self._counters = state.counters
        self._apply_public = apply_public
        self._apply_staff = apply_staff
        self.emitted: list[Emitted] = []

    def emit(self, event: Event) -> None:
        """Record ``event`` on its channel and apply it to that view."""
        if event.channel == "public":
            self.public = self._apply_public(self.public, event)
        else:
            self.staff = self._apply_staff(self.staff, event)
        self.emitted.append(Emitted(event.channel, event))

    def allocate(self, kind: IdKind) -> int:
        field = f"next_{kind}_id"
        value: int = getattr(self._counters, field)
        self._counters = self._counters.model_copy(update={field: value + 1})
        return value

    def result(self) -> tuple[LiveState, list[Emitted]]:
        state = LiveState(public=self.public, staff=self.staff, counters=self._counters)
        return state, self.emitted


def reject(code: ErrorCode, message: str) -> NoReturn:
    raise CommandRejected(code, message)
