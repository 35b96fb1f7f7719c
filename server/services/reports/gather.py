"""Read what a report needs from the database into plain data (a sync session; the server runs it
through ``AsyncSession.run_sync``).

Two steps, because which presence rows to read depends on when the mornings ran:
``read_programme`` (event, days, segments as they ran from the live state), then ``read_activity``
(registrations, presence intervals overlapping the windows, speeches, questions, decisions).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from server.adapters.db.models import (
    Day,
    Event,
    EventLogEntry,
    LiveStateRow,
    Presence,
    QuestionVote,
    Registration,
    Segment,
    User,
)
from server.core.attendance import Interval
from server.core.state import LiveState
from server.services.attendance import STALE_AFTER
from server.services.reports.model import (
    Attendee,
    DayFacts,
    Decision,
    QuestionFacts,
    ReportInput,
    SegmentFacts,
    SpeechFacts,
    pick_title,
)

LOGGED_TYPES = (
    "speech.ended",
    "floor.requested",
    "question.asked",
    "question.edited",
    "question.approved",
    "question.dismissed",
    "question.undismissed",
    "question.answered",
    "question.archived",
    "question.unarchived",
    "qa.moderation_set",
)
DECISIONS = {
    "question.asked": "asked",
    "question.edited": "edited",
    "question.approved": "approved",
    "question.dismissed": "dismissed",
    "question.undismissed": "restored",
    "question.answered": "answered",
    "question.archived": "archived",
    "question.unarchived": "unarchived",
}


class EventNotFound(LookupError):
    pass


@dataclass
class Programme:
    event_id: int
    slug: str
    title: str
    zone: ZoneInfo
    days: list[DayFacts]
    segments: list[SegmentFacts]
    state: LiveState | None


def instant(value: Any) -> datetime:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def read_programme(session: Session, event_id: int) -> Programme:
    event = session.get(Event, event_id)
    if event is None:
        raise EventNotFound(f"no event {event_id}")
    days = session.execute(select(Day).where(Day.event_id == event_id).order_by(Day.date)).scalars().all()
    row = session.get(LiveStateRow, event_id)
    state = LiveState.model_validate(row.state) if row is not None else None
    ran = {s.id: s for s in state.public.segments} if state is not None else {}
    segments = []
    query = (
        select(Segment)
        .where(Segment.event_id == event_id)
        .options(selectinload(Segment.people), selectinload(Segment.day))
        .order_by(Segment.starts_at, Segment.id)
    )
    for s in session.execute(query).scalars():
        live = ran.get(s.id)
        segments.append(
            SegmentFacts(
                id=s.id,
                key=s.key,
                kind=s.kind,
                title=pick_title(s.title),
                day=s.day.date,
                starts_at=s.starts_at,
                ends_at=s.ends_at,
                opened_at=live.opened_at if live else None,
                ended_at=live.ended_at if live else None,
                people={p.id: p.name for p in s.people},
            )
        )
    return Programme(
        event_id=event.id,
        slug=event.slug,
        title=pick_title(event.title),
        zone=ZoneInfo(event.timezone),
        days=[DayFacts(d.date, d.starts_at, d.ends_at, pick_title(d.title)) for d in days],
        segments=segments,
        state=state,
    )


def read_presences(
    session: Session, event_id: int, since: datetime, until: datetime, now: datetime
) -> dict[int, list[Interval]]:
    """Presence intervals touching ``[since, until)`` by registration. An interval still open ends
    now while its connection is alive, or at its last heartbeat when nobody has seen it for
    ``STALE_AFTER`` (a crashed server's rows before the sweep closes them)."""
    by_person: dict[int, list[Interval]] = defaultdict(list)
    if until <= since:
        return by_person
    stale = now - STALE_AFTER
    rows = session.execute(
        select(Presence.registration_id, Presence.started_at, Presence.last_seen_at, Presence.ended_at).where(
            Presence.event_id == event_id,
            Presence.started_at < until,
            or_(Presence.ended_at.is_(None), Presence.ended_at > since),
        )
    )
    for registration_id, started, last_seen, ended in rows:
        end = ended if ended is not None else (now if last_seen >= stale else last_seen)
        if end > started:
            by_person[registration_id].append(Interval(started, end))
    return by_person


def _registration_id(actor: str | None) -> int | None:
    if actor and actor.startswith("a:"):
        return int(actor[2:])
    return None


class _Names:
    """Display names for ``u:<id>`` (staff) and ``a:<id>`` (attendee) actors."""

    def __init__(self, session: Session, attendees: dict[int, Attendee]) -> None:
        self._users = {
            uid: name or email for uid, name, email in session.execute(select(User.id, User.name, User.email))
        }
        self._attendees = attendees

    def user(self, user_id: int | None) -> str:
        if user_id is None:
            return "automatic (moderation off)"
        return self._users.get(user_id, f"user {user_id}")

    def actor(self, actor: str | None) -> str:
        if not actor:
            return "system"
        kind, _, number = actor.partition(":")
        if kind == "u" and number.isdigit():
            return self.user(int(number))
        if kind == "a" and number.isdigit():
            attendee = self._attendees.get(int(number))
            return attendee.name if attendee else f"attendee {number}"
        return actor


def read_activity(
    session: Session, programme: Programme, since: datetime, until: datetime, now: datetime
) -> ReportInput:
    event_id = programme.event_id
    attendees = {
        r.id: Attendee(
            id=r.id,
            name=r.name,
            email=r.email,
            organisation=r.organisation,
            category=r.category,
            country=r.country,
            language=r.language,
            created_at=r.created_at,
            revoked_at=r.revoked_at,
        )
        for r in session.execute(
            select(Registration).where(Registration.event_id == event_id).order_by(Registration.id)
        ).scalars()
    }
    names = _Names(session, attendees)
    log = session.execute(
        select(EventLogEntry.type, EventLogEntry.payload, EventLogEntry.actor, EventLogEntry.at)
        .where(EventLogEntry.event_id == event_id, EventLogEntry.type.in_(LOGGED_TYPES))
        .order_by(EventLogEntry.at, EventLogEntry.id)
    ).all()
    floor_actor: dict[int, str | None] = {}
    asker_actor: dict[int, str | None] = {}
    speeches: list[SpeechFacts] = []
    decisions: list[Decision] = []
    for type_, payload, actor, logged_at in log:
        if type_ == "floor.requested":
            floor_actor[int(payload["entry"]["id"])] = actor
        elif type_ == "speech.ended":
            speeches.append(_speech(payload, floor_actor))
        elif type_ == "qa.moderation_set":
            action = "moderation on" if payload.get("enabled") else "moderation off"
            at = instant(payload["at"]) if "at" in payload else logged_at
            decisions.append(Decision(at, action, None, names.user(payload.get("by"))))
        else:
            decisions.append(_decision(type_, payload, actor, logged_at, names, asker_actor))
    votes = {
        question_id: int(count)
        for question_id, count in session.execute(
            select(QuestionVote.question_id, func.count())
            .where(QuestionVote.event_id == event_id)
            .group_by(QuestionVote.question_id)
        )
    }
    return ReportInput(
        event_id=event_id,
        slug=programme.slug,
        title=programme.title,
        zone=programme.zone,
        days=programme.days,
        segments=programme.segments,
        attendees=attendees,
        presences=read_presences(session, event_id, since, until, now),
        speeches=speeches,
        questions=_questions(programme, votes, asker_actor),
        decisions=decisions,
    )


def _speech(payload: dict[str, Any], floor_actor: dict[int, str | None]) -> SpeechFacts:
    speech = payload["speech"]
    entry_id = speech.get("entry_id")
    return SpeechFacts(
        id=int(speech["id"]),
        segment_id=int(speech["segment_id"]),
        speaker_name=speech.get("speaker_name", ""),
        organisation=speech.get("organisation"),
        source="floor" if entry_id is not None else "programme",
        started_at=instant(speech["started_at"]),
        ended_at=instant(payload["at"]),
        duration_s=float(payload.get("duration_s", 0.0)),
        on_behalf_of=speech.get("on_behalf_of"),
        topic=speech.get("topic"),
        point_of_order=bool(speech.get("point_of_order", False)),
        registration_id=_registration_id(floor_actor.get(int(entry_id))) if entry_id is not None else None,
    )


def _decision(
    type_: str,
    payload: dict[str, Any],
    actor: str | None,
    logged_at: datetime,
    names: _Names,
    asker_actor: dict[int, str | None],
) -> Decision:
    action = DECISIONS[type_]
    question = payload.get("question")
    question_id = int(question["id"]) if question else int(payload["question_id"])
    at = instant(payload["at"]) if "at" in payload else logged_at
    detail = ""
    if type_ == "question.asked" and question:
        asker_actor[question_id] = actor
        at = instant(question["asked_at"])
        by = names.actor(actor)
    elif "by" in payload:
        by = names.user(payload["by"])
    else:  # public events carry no moderator: the log's actor is who did it
        by = names.actor(actor)
    if type_ == "question.edited":
        detail = f"new text: {payload.get('text', '')}"
    elif type_ == "question.unarchived":
        detail = f"back to {payload.get('status')}"
    return Decision(at, action, question_id, by, detail)


def _questions(programme: Programme, votes: dict[int, int], asker_actor: dict[int, str | None]) -> list[QuestionFacts]:
    state = programme.state
    if state is None:
        return []
    people = {pid: name for s in programme.segments for pid, name in s.people.items()}
    questions = []
    for q in state.public.questions:
        facts = state.staff.provenance.get(q.id)
        questions.append(
            QuestionFacts(
                id=q.id,
                segment_id=q.segment_id,
                text=q.text,
                asked_at=q.asked_at,
                asker_name=facts.asker.name if facts else (q.asker_name or ""),
                asker_organisation=facts.asker.organisation if facts else q.asker_organisation,
                anonymous=facts.anonymous if facts else q.asker_name is None,
                status=q.status,
                votes=votes.get(q.id, 0),
                original_text=facts.original_text if facts else None,
                addressed_to=people.get(q.addressed_to) if q.addressed_to else None,
                answered_at=q.answered_at,
                registration_id=_registration_id(asker_actor.get(q.id)),
            )
        )
    for sq in state.staff.questions:
        questions.append(
            QuestionFacts(
                id=sq.id,
                segment_id=sq.segment_id,
                text=sq.text,
                asked_at=sq.asked_at,
                asker_name=sq.asker.name,
                asker_organisation=sq.asker.organisation,
                anonymous=sq.anonymous,
                status=sq.status,
                votes=votes.get(sq.id, 0),
                original_text=sq.original_text,
                addressed_to=people.get(sq.addressed_to) if sq.addressed_to else None,
                registration_id=_registration_id(asker_actor.get(sq.id)),
            )
        )
    return sorted(questions, key=lambda q: q.id)
