"""Who may do what with an event: one table of rules and one check, for every HTTP route and the websocket.

Roles are per event (``Principal.role_in``): an attendee belongs to the one event they registered for;
a staff account is moderator or organiser of the events listed in ``event_roles`` and of no other.
A route names what it does (a ``Capability``), never a set of roles: the roles live in ``RULES`` only,
so a new organiser feature cannot copy a wrong role set. ``docs/access.md`` shows the whole matrix.

The check answers in a fixed order, the same everywhere: not signed in (401) before an unknown
event (404) before a missing role (403). What each role may send on the live channel once
connected is the core's business (``server/core/permissions.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from server.adapters.db.models import Event
from server.services.auth import Principal, Role


class Capability(StrEnum):
    """What a principal asks to do with one event."""

    JOIN_LIVE = "join_live"  # open the live websocket (follow, ask, vote, request the floor; staff: moderate)
    SEE_ATTENDANCE_TIMELINE = "see_attendance_timeline"  # the dashboard's attendees-per-minute of a morning
    MANAGE_REGISTRATIONS = "manage_registrations"  # list, export, revoke, reissue join links, bulk import
    MANAGE_REMINDERS = "manage_reminders"  # see deliveries, resend one, change the schedule
    MANAGE_REPORTS = "manage_reports"  # list, compile and download attendance reports
    MANAGE_SPEAKING_ORDER = "manage_speaking_order"  # the order of categories for the list of speakers
    SEND_MESSAGES = "send_messages"  # mail a message to an audience of the event, see counts, resend
    MANAGE_CERTIFICATES = "manage_certificates"  # see, issue and download every certificate of the event
    OWN_CERTIFICATES = "own_certificates"  # an attendee's own certificates of attendance


EVERY_ROLE: Final[frozenset[Role]] = frozenset({"attendee", "moderator", "organiser"})
STAFF: Final[frozenset[Role]] = frozenset({"moderator", "organiser"})
ORGANISERS: Final[frozenset[Role]] = frozenset({"organiser"})

RULES: Final[Mapping[Capability, frozenset[Role]]] = {
    Capability.JOIN_LIVE: EVERY_ROLE,
    Capability.SEE_ATTENDANCE_TIMELINE: STAFF,
    # Registrations hold personal data (emails, countries): organisers only.
    Capability.MANAGE_REGISTRATIONS: ORGANISERS,
    Capability.MANAGE_REMINDERS: ORGANISERS,
    # Reports name attendees; the timeline above is counts only, which a moderator needs to chair.
    Capability.MANAGE_REPORTS: ORGANISERS,
    Capability.MANAGE_SPEAKING_ORDER: ORGANISERS,
    # Messages go to attendees' addresses, chosen by their personal data: organisers only.
    Capability.SEND_MESSAGES: ORGANISERS,
    Capability.MANAGE_CERTIFICATES: ORGANISERS,
    # Only a registration has certificates; the route names no registration, so only one's own.
    Capability.OWN_CERTIFICATES: frozenset({"attendee"}),
}
assert set(RULES) == set(Capability), "every capability needs exactly one rule"


class AccessError(Exception):
    """Refused: ``code`` is the stable machine-readable reason, the message is for people."""

    code: ClassVar[str]

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotSignedIn(AccessError):
    code = "not_signed_in"


class EventNotFound(AccessError):
    code = "event_not_found"


class AccessForbidden(AccessError):
    code = "forbidden"


@dataclass(frozen=True)
class EventAccess:
    """An event a principal may use for one capability, and the role that grants it."""

    principal: Principal
    event: Event
    role: Role


def signed_in(principal: Principal | None) -> Principal:
    if principal is None:
        raise NotSignedIn("sign in first")
    return principal


def _refusal(capability: Capability) -> str:
    names = {"attendee": "attendees", "moderator": "moderators", "organiser": "organisers"}
    roles = [names[r] for r in sorted(RULES[capability], key=("organiser", "moderator", "attendee").index)]
    listed = roles[0] if len(roles) == 1 else ", ".join(roles[:-1]) + " and " + roles[-1]
    return f"only the event's {listed} may do this"


async def event_for(
    session: AsyncSession, principal: Principal | None, slug: str, capability: Capability
) -> EventAccess:
    """The event ``slug`` when ``principal`` may use it for ``capability``.

    Raises ``NotSignedIn``, ``EventNotFound`` or ``AccessForbidden``, in that order.
    """
    who = signed_in(principal)
    # The programme file (``source``) is the one large column and no caller of this check reads it:
    # thousands of sockets join in a storm, each through here.
    query = select(Event).where(Event.slug == slug).options(defer(Event.source))
    event = (await session.execute(query)).scalar_one_or_none()
    return access_to(event, who, slug, capability)


def access_to(event: Event | None, principal: Principal | None, slug: str, capability: Capability) -> EventAccess:
    """``event_for`` once the event ``slug`` has been read (``None``: there is none); the same
    refusals in the same order, for callers that read many at once (``server/services/joins.py``)."""
    who = signed_in(principal)
    if event is None:
        raise EventNotFound(f"no event with slug {slug!r}")
    role = who.role_in(event.id)
    if role is None or role not in RULES[capability]:
        raise AccessForbidden(_refusal(capability) if role is not None else "you have no role in this event")
    return EventAccess(principal=who, event=event, role=role)
