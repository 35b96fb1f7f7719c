"""Programmes in the database: load a programme file (idempotent, keyed by slug), copy to new dates, read."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from server.adapters.db.models import Day, Event, ReminderSchedule, Segment, SegmentPerson
from server.programme import PersonSpec, ProgrammeSpec


class EventNotFound(LookupError):
    pass


class EventExists(ValueError):
    pass


def _local(day: date, clock: Any, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, clock, tzinfo=tz)


def _people(spec_moderator: PersonSpec | None, speakers: tuple[PersonSpec, ...]) -> list[SegmentPerson]:
    listed = ([("moderator", spec_moderator)] if spec_moderator else []) + [("speaker", p) for p in speakers]
    return [
        SegmentPerson(
            position=i,
            role=role,
            name=p.name,
            title=p.title,
            affiliation=p.affiliation,
            video_message=p.video_message,
            email=p.email,
        )
        for i, (role, p) in enumerate(listed)
    ]


def _same_people(current: list[SegmentPerson], wanted: list[SegmentPerson]) -> bool:
    def key(p: SegmentPerson) -> tuple[Any, ...]:
        return (p.position, p.role, p.name, p.title, p.affiliation, p.video_message, p.email)

    return [key(p) for p in current] == [key(p) for p in wanted]


def _assign(row: Any, **values: Any) -> bool:
    """Set the attributes that differ; True when any did."""
    changed = False
    for attr, value in values.items():
        if getattr(row, attr) != value:
            setattr(row, attr, value)
            changed = True
    return changed


async def _load_event(session: AsyncSession, slug: str) -> Event | None:
    result = await session.execute(
        select(Event)
        .where(Event.slug == slug)
        .options(selectinload(Event.days).selectinload(Day.segments).selectinload(Segment.people))
    )
    return result.scalar_one_or_none()


async def upsert_programme(session: AsyncSession, spec: ProgrammeSpec) -> tuple[Event, bool]:
    """Create or update the event of ``spec`` in place. Returns the event and whether anything changed.

    Days are matched by date and segments by key, so ids stay stable across edits (the live state
    and attendance refer to them); what the file no longer lists is removed.
    """
    tz = ZoneInfo(spec.timezone)
    event = await _load_event(session, spec.slug)
    created = event is None
    if event is None:
        event = Event(slug=spec.slug, title={}, timezone="", languages=[], streams={}, days=[])
        session.add(event)
    changed = (
        _assign(
            event,
            title=dict(spec.title),
            timezone=spec.timezone,
            languages=list(spec.languages),
            streams=dict(spec.streams),
            source=spec.source,
        )
        or created
    )
    await session.flush()  # the event id is needed by new segments

    # segments are matched by key across the whole event: a segment may move to another day
    existing = {seg.key: (seg, day) for day in event.days for seg in day.segments}
    wanted_keys = {seg.key for day in spec.days for seg in day.segments}
    for key, (seg, owner_day) in existing.items():
        if key not in wanted_keys:
            owner_day.segments.remove(seg)
            changed = True
    days_by_date = {d.date: d for d in event.days}
    wanted_dates = {d.date for d in spec.days}
    for stale in [d for d in event.days if d.date not in wanted_dates]:
        for seg in list(stale.segments):  # segments moving elsewhere must not be deleted with the day
            if seg.key in wanted_keys:
                stale.segments.remove(seg)
        event.days.remove(stale)
        changed = True
    for day_spec in spec.days:
        day = days_by_date.get(day_spec.date)
        if day is None:
            day = Day(date=day_spec.date, title={}, theme={}, segments=[])
            event.days.append(day)
            changed = True
        changed |= _assign(
            day,
            starts_at=_local(day_spec.date, day_spec.starts, tz),
            ends_at=_local(day_spec.date, day_spec.ends, tz),
            title=dict(day_spec.title),
            theme=dict(day_spec.theme),
        )
        for seg_spec in day_spec.segments:
            segment, owner = existing.get(seg_spec.key, (None, None))
            if segment is None:
                segment = Segment(key=seg_spec.key, event_id=event.id, title={}, people=[])
            if owner is not day:
                if owner is not None and segment in owner.segments:
                    owner.segments.remove(segment)
                day.segments.append(segment)
                changed = True
            changed |= _assign(
                segment,
                kind=seg_spec.kind,
                title=dict(seg_spec.title),
                starts_at=_local(day_spec.date, seg_spec.starts, tz),
                ends_at=_local(day_spec.date, seg_spec.ends, tz),
            )
            people = _people(seg_spec.moderator, seg_spec.speakers)
            if not _same_people(segment.people, people):
                segment.people.clear()
                await session.flush()  # free (segment_id, position) before the new rows go in
                segment.people.extend(people)
                changed = True
    if spec.speaking_order is not None:  # a file without it keeps the default or an organiser's edit
        changed = _assign(event, speaking_order=list(spec.speaking_order)) or changed
    if spec.reminders is not None:  # a file without `reminders` keeps the default or an organiser's edit
        offsets = {"attendees": list(spec.reminders.attendees), "speakers": list(spec.reminders.speakers)}
        schedule = await session.get(ReminderSchedule, event.id)
        if schedule is None:
            session.add(ReminderSchedule(event_id=event.id, offsets=offsets, source="programme"))
            changed = True
        elif schedule.offsets != offsets:
            schedule.offsets, schedule.source = offsets, "programme"
            changed = True
    await session.flush()
    return event, changed


async def copy_event(session: AsyncSession, slug: str, new_slug: str, first_day: date) -> Event:
    """The same programme on new dates: local wall-clock times kept, instants recomputed (DST-safe)."""
    source = await _load_event(session, slug)
    if source is None:
        raise EventNotFound(slug)
    if await _load_event(session, new_slug) is not None:
        raise EventExists(new_slug)
    tz = ZoneInfo(source.timezone)
    shift = timedelta(days=(first_day - source.days[0].date).days) if source.days else timedelta()

    def moved(instant: datetime) -> datetime:
        local = instant.astimezone(tz)
        return datetime.combine(local.date() + shift, local.timetz().replace(tzinfo=None), tzinfo=tz)

    copy = Event(
        slug=new_slug,
        title=dict(source.title),
        timezone=source.timezone,
        languages=list(source.languages),
        streams=dict(source.streams),
        speaking_order=list(source.speaking_order) if source.speaking_order is not None else None,
        source=f"copy of {slug}",
        days=[],
    )
    session.add(copy)
    await session.flush()
    for day in source.days:
        new_day = Day(
            date=day.date + shift,
            starts_at=moved(day.starts_at),
            ends_at=moved(day.ends_at),
            title=dict(day.title),
            theme=dict(day.theme),
            segments=[],
        )
        copy.days.append(new_day)
        for segment in day.segments:
            new_day.segments.append(
                Segment(
                    event_id=copy.id,
                    key=segment.key,
                    kind=segment.kind,
                    title=dict(segment.title),
                    starts_at=moved(segment.starts_at),
                    ends_at=moved(segment.ends_at),
                    people=[
                        SegmentPerson(
                            position=p.position,
                            role=p.role,
                            name=p.name,
                            title=p.title,
                            affiliation=p.affiliation,
                            video_message=p.video_message,
                            email=p.email,
                        )
                        for p in segment.people
                    ],
                )
            )
    schedule = await session.get(ReminderSchedule, source.id)
    if schedule is not None:
        session.add(ReminderSchedule(event_id=copy.id, offsets=dict(schedule.offsets), source=schedule.source))
    await session.flush()
    return copy


async def list_events(session: AsyncSession) -> list[dict[str, Any]]:
    events = (await session.execute(select(Event).options(selectinload(Event.days)).order_by(Event.id))).scalars()
    return [
        {
            "id": e.id,
            "slug": e.slug,
            "title": e.title,
            "timezone": e.timezone,
            "first_day": e.days[0].date.isoformat() if e.days else None,
            "last_day": e.days[-1].date.isoformat() if e.days else None,
            "url": f"/api/events/{e.slug}",
        }
        for e in events
    ]


def _instant(value: datetime, tz: ZoneInfo) -> str:
    return value.astimezone(tz).isoformat()


async def programme_document(session: AsyncSession, slug: str) -> dict[str, Any]:
    """The whole programme as one document: days, segments and their people embedded."""
    event = await _load_event(session, slug)
    if event is None:
        raise EventNotFound(slug)
    tz = ZoneInfo(event.timezone)
    return {
        "slug": event.slug,
        "title": event.title,
        "timezone": event.timezone,
        "languages": event.languages,
        "streams": event.streams,
        "days": [
            {
                "date": day.date.isoformat(),
                "title": day.title,
                "theme": day.theme,
                "starts_at": _instant(day.starts_at, tz),
                "ends_at": _instant(day.ends_at, tz),
                "segments": [
                    {
                        "id": seg.id,
                        "key": seg.key,
                        "kind": seg.kind,
                        "title": seg.title,
                        "starts_at": _instant(seg.starts_at, tz),
                        "ends_at": _instant(seg.ends_at, tz),
                        "timezone": event.timezone,
                        "people": [
                            {
                                "id": p.id,
                                "role": p.role,
                                "name": p.name,
                                "title": p.title,
                                "affiliation": p.affiliation,
                                "video_message": p.video_message,
                            }
                            for p in seg.people
                        ],
                    }
                    for seg in day.segments
                ],
            }
            for day in event.days
        ],
    }
