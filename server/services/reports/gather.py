"""Read what a report needs from the database into plain data (a sync session; the server runs it
through ``AsyncSession.run_sync``).

Two steps, because which presence rows to read depends on when the mornings ran:
``read_programme`` (event, days, segments as they ran from the live state), then ``read_activity``
(registrations, presence intervals overlapping the windows, speeches, questions, decisions).

The live state and the event log are read through ``server.core.records``, the same decoder the
live service uses: reports work on typed events, and a record that cannot be read stops the
report with a ``RecordError`` naming the row instead of printing blanks.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from server.adapters.db.models import (
    Day,
    Event,
    EventLogEntry,
    LiveStateRow,
    PollBallot,
    Presence,
    QuestionVote,
    Registration,
    Segment,
    User,
)
from server.core.attendance import Interval
from server.core.model import (
    Event as LiveEvent,
)
from server.core.model import (
    FloorRequested,
    QaModerationSet,
    QuestionAnswered,
    QuestionApproved,
    QuestionArchived,
    QuestionAsked,
    QuestionDismissed,
    QuestionEdited,
    QuestionUnarchived,
    QuestionUndismissed,
    SpeechEnded,
    parse_person_ref,
)
from server.core.records import decode_event, decode_state, event_record, state_record, stored_event_types
from server.core.state import LiveState
from server.services.reports.model import (
    Attendee,
    DayFacts,
    Decision,
    PollFacts,
    QuestionFacts,
    ReportInput,
    SegmentFacts,
    SpeechFacts,
    StatementFacts,
    pick_title,
)

QuestionDecision = (
    QuestionAsked
    | QuestionEdited
    | QuestionApproved
    | QuestionDismissed
    | QuestionUndismissed
    | QuestionAnswered
    | QuestionArchived
    | QuestionUnarchived
)
DECISIONS: dict[type[QuestionDecision], str] = {
    QuestionAsked: "asked",
    QuestionEdited: "edited",
    QuestionApproved: "approved",
    QuestionDismissed: "dismissed",
    QuestionUndismissed: "restored",
    QuestionAnswered: "answered",
    QuestionArchived: "archived",
    QuestionUnarchived: "unarchived",
}
LOGGED_TYPES = stored_event_types(
    [cls.model_fields["type"].default for cls in (SpeechEnded, FloorRequested, QaModerationSet, *DECISIONS)]
)
"""The event types a report reads from the log (under every name they have been stored as)."""


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


def read_programme(session: Session, event_id: int) -> Programme:
    event = session.get(Event, event_id)
    if event is None:
        raise EventNotFound(f"no event {event_id}")
    days = session.execute(select(Day).where(Day.event_id == event_id).order_by(Day.date)).scalars().all()
    row = session.get(LiveStateRow, event_id)
    state = decode_state(row.state, row.format, record=state_record(event_id)) if row is not None else None
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
    session: Session, event_id: int, since: datetime, until: datetime, now: datetime, *, stale_after: timedelta
) -> dict[int, list[Interval]]:
    """Presence intervals touching ``[since, until)`` by registration. An interval still open ends
    now while its connection is alive, or at its last heartbeat when nobody has seen it for
    ``stale_after`` (``attendance.presence_stale_after``: a crashed server's rows before the sweep
    closes them)."""
    by_person: dict[int, list[Interval]] = defaultdict(list)
    if until <= since:
        return by_person
    stale = now - stale_after
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

    def person(self, ref: str | None) -> str:
        """The name of a person reference of the state (``by``: ``"staff:<id>"``, null when automatic)."""
        if ref is None:
            return self.user(None)
        kind, number = parse_person_ref(ref)
        return self.actor(f"{'u' if kind == 'staff' else 'a'}:{number}")

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
    session: Session, programme: Programme, since: datetime, until: datetime, now: datetime, *, stale_after: timedelta
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
    floor_actor: dict[int, str | None] = {}
    asker_actor: dict[int, str | None] = {}
    speeches: list[SpeechFacts] = []
    decisions: list[Decision] = []
    for event, actor in read_log(session, event_id, LOGGED_TYPES):
        match event:
            case FloorRequested():
                floor_actor[event.entry.id] = actor
            case SpeechEnded():
                speeches.append(_speech(event, floor_actor))
            case QaModerationSet():
                action = "moderation on" if event.enabled else "moderation off"
                decisions.append(Decision(event.at, action, None, names.person(event.by)))
            case (
                QuestionAsked()
                | QuestionEdited()
                | QuestionApproved()
                | QuestionDismissed()
                | QuestionUndismissed()
                | QuestionAnswered()
                | QuestionArchived()
                | QuestionUnarchived()
            ):
                decisions.append(_decision(event, actor, names, asker_actor))
    votes = {
        question_id: int(count)
        for question_id, count in session.execute(
            select(QuestionVote.question_id, func.count())
            # inside the scope like every other figure: a vote cast after the morning ended must not
            # make a report compiled later differ from the one compiled when it ended
            .where(QuestionVote.event_id == event_id, QuestionVote.at < until)
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
        presences=read_presences(session, event_id, since, until, now, stale_after=stale_after),
        speeches=speeches,
        questions=_questions(programme, votes, asker_actor),
        decisions=decisions,
        polls=read_polls(session, programme),
        statements=_statements(programme),
    )


def read_polls(session: Session, programme: Programme) -> list[PollFacts]:
    """The opened polls of the live state with their ballots (drafts never opened are left out)."""
    state = programme.state
    if state is None or not state.public.polls:
        return []
    ballots: defaultdict[int, list[tuple[int, tuple[int, ...]]]] = defaultdict(list)
    rows = session.execute(
        select(PollBallot.poll_id, PollBallot.voter, PollBallot.option_ids)
        .where(PollBallot.event_id == programme.event_id)
        .order_by(PollBallot.poll_id, PollBallot.voter)
    )
    for poll_id, voter, option_ids in rows:
        registration_id = _registration_id(voter)
        if registration_id is not None:
            ballots[poll_id].append((registration_id, tuple(sorted(int(o) for o in option_ids))))
    return [
        PollFacts(
            id=p.id,
            segment_id=p.segment_id,
            question=p.question,
            choice=p.choice,
            anonymous=p.anonymous,
            status=p.status,
            published=p.results is not None,
            opened_at=p.opened_at,
            closed_at=p.closed_at,
            options=tuple((o.id, o.text) for o in p.options),
            ballots=tuple(sorted(ballots.get(p.id, []))),
        )
        for p in state.public.polls
    ]


def read_log(session: Session, event_id: int, types: tuple[str, ...]) -> list[tuple[LiveEvent, str | None]]:
    """The event's logged events of ``types`` in the order they happened, each with its actor,
    decoded by the one event-log decoder (``core.records``)."""
    rows = session.execute(
        select(
            EventLogEntry.id,
            EventLogEntry.channel,
            EventLogEntry.seq,
            EventLogEntry.payload,
            EventLogEntry.format,
            EventLogEntry.actor,
        )
        .where(EventLogEntry.event_id == event_id, EventLogEntry.type.in_(types))
        .order_by(EventLogEntry.at, EventLogEntry.id)
    )
    return [
        (decode_event(payload, fmt, record=event_record(row_id, event_id, channel, seq)), actor)
        for row_id, channel, seq, payload, fmt, actor in rows
    ]


def _speech(event: SpeechEnded, floor_actor: dict[int, str | None]) -> SpeechFacts:
    speech = event.speech
    entry_id = speech.entry_id
    return SpeechFacts(
        id=speech.id,
        segment_id=speech.segment_id,
        speaker_name=speech.speaker_name,
        organisation=speech.organisation,
        source="floor" if entry_id is not None else "programme",
        started_at=speech.started_at,
        ended_at=event.at,
        duration_s=event.duration_s,
        on_behalf_of=speech.on_behalf_of,
        topic=speech.topic,
        point_of_order=speech.point_of_order,
        registration_id=_registration_id(floor_actor.get(entry_id)) if entry_id is not None else None,
    )


def _decision(
    event: QuestionDecision, actor: str | None, names: _Names, asker_actor: dict[int, str | None]
) -> Decision:
    action = DECISIONS[type(event)]
    detail = ""
    match event:
        case QuestionAsked():
            question_id, at = event.question.id, event.question.asked_at
            asker_actor[question_id] = actor
            return Decision(at, action, question_id, names.actor(actor))
        case QuestionDismissed():
            return Decision(event.at, action, event.question.id, names.person(event.by))
        case QuestionEdited():
            detail = f"new text: {event.text}"
            return Decision(event.at, action, event.question_id, names.person(event.by), detail)
        case QuestionApproved() | QuestionUndismissed():
            return Decision(event.at, action, event.question_id, names.person(event.by))
        case QuestionUnarchived():
            detail = f"back to {event.status}"
    # public events carry no moderator: the log's actor is who did it
    return Decision(event.at, action, event.question_id, names.actor(actor), detail)


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


def _statements(programme: Programme) -> list[StatementFacts]:
    """Written statements from the live state: approved (published) ones, pending and rejected."""
    state = programme.state
    if state is None:
        return []
    statements = [
        StatementFacts(
            id=s.id,
            segment_id=s.segment_id,
            author_name=s.author.name,
            organisation=s.author.organisation,
            on_behalf_of=s.author.on_behalf_of,
            language=s.language,
            text=s.text,
            status="approved",
            submitted_at=s.submitted_at,
            decided_at=s.published_at,
        )
        for s in state.public.statements.published
    ]
    statements.extend(
        StatementFacts(
            id=s.id,
            segment_id=s.segment_id,
            author_name=s.author.name,
            organisation=s.author.organisation,
            on_behalf_of=s.author.on_behalf_of,
            language=s.language,
            text=s.text,
            status=s.status,
            submitted_at=s.submitted_at,
            decided_at=s.decided_at,
        )
        for s in state.staff.statements
    )
    return sorted(statements, key=lambda s: s.id)
