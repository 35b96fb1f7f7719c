"""A certificate as printed: what the PDF shows and what ``GET /verify/{code}`` may reveal (nothing
else: no email, no registration number, no other attendee)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from server.services.certificates.codes import display

EVENT_SCOPE = "event"


@dataclass(frozen=True)
class Printed:
    code: str
    """As stored: 20 characters, no hyphens."""
    scope: str
    """A morning (``YYYY-MM-DD``) or ``event``."""
    name: str
    organisation: str
    language: str
    event_title: str
    first_day: date
    last_day: date
    minutes: float
    threshold: float

    @property
    def morning(self) -> bool:
        return self.scope != EVENT_SCOPE

    def public(self, verify_url: str) -> dict[str, Any]:
        """The JSON of a genuine certificate: exactly what is printed on it."""
        return {
            "genuine": True,
            "code": display(self.code),
            "kind": "morning" if self.morning else "event",
            "name": self.name,
            "organisation": self.organisation,
            "event": self.event_title,
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "minutes": self.minutes,
            "threshold": self.threshold,
            "language": self.language,
            "verify_url": verify_url,
        }
