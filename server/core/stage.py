"""The stage: segments (scheduled → live ⇄ paused → ended), the current speech and the notice.

At most one segment is live or paused. A speech runs on the live segment; its clock stops while
it is paused (pausing the segment pauses it too, resuming the segment does not restart it: the
moderator does, when the speaker is back). Ending a segment ends the speech and closes the queue.

A segment opens on its own day only: from ``OPENING_MARGIN`` before the first segment of its day to
``OPENING_MARGIN`` after the last one's scheduled end (the day as the programme gives it, in the
event's time zone). Outside that window ``segment.open`` is refused with ``outside_day``, unless the
event is a rehearsal copy: otherwise a click on a past morning in the moderator's list would open it
years later and its report would cover years of minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

from server.core.model import (
    FloorGrant,
    Notice,
    NoticeClear,
    NoticeCleared,
    NoticePosted,
    NoticeSet,
    PublicState,
    QueueClosed,
    Segment,
    SegmentEnd,
    SegmentEnded,
    SegmentKind,
    SegmentOpen,
    SegmentOpened,
    SegmentPause,
    SegmentPaused,
    SegmentResume,
    SegmentResumed,
    SpeakersQueue,
    Speech,
    SpeechEnd,
    SpeechEnded,
    SpeechLimitSet,
    SpeechPause,
    SpeechPaused,
    SpeechResume,
    SpeechResumed,
    SpeechSetLimit,
    SpeechStarted,
)
from server.core.model.events import StageEvent
from server.core.speakers import entry_by_id, without_entry
from server.core.state import Actor, InconsistentEvent, seconds_between
from server.core.tx import Transaction, reject

INTERVENTION_LIMIT_S: Final = 180
"""Default time limit for an intervention from the floor (a queue entry)."""
PROGRAMME_LIMIT_S: Final[dict[SegmentKind, int]] = {"panel": 420, "opening": 300, "closing": 300}
"""Default time limit for a programme person, by segment kind."""

OPENING_MARGIN: Final = timedelta(hours=2)
"""How long before its day's first segment, and after its last one's scheduled end, a segment may open:
a morning that starts early or runs late is covered; another day is not."""


# -- reading the state ----------------------------------------------------------------------------


def segment_by_id(public: PublicState, segment_id: int) -> Segment | None:
    return next((segment for segment in public.segments if segment.id == segment_id), None)


def segment_in_progress(public: PublicState) -> Segment | None:
    """The live or paused segment, if any."""
    if public.stage.live_segment_id is None:
        return None
    return segment_by_id(public, public.stage.live_segment_id)


def spoken_seconds(speech: Speech, at: datetime) -> float:
    """Time on the floor up to ``at``, pauses excluded."""
    until = speech.paused_at if speech.paused_at is not None else at
    return max(0.0, seconds_between(speech.started_at, until) - speech.paused_s)


@dataclass(frozen=True)
class DayBounds:
    """When a day's programme is scheduled: its first segment's start and its last segment's end."""

    first_start: datetime
    last_end: datetime


def day_bounds(public: PublicState, day: date) -> DayBounds | None:
    """The scheduled bounds of ``day`` from the segments on it (None: no segment on that day)."""
    on_day = [segment for segment in public.segments if segment.day == day]
    if not on_day:
        return None
    return DayBounds(min(s.starts_at for s in on_day), max(s.ends_at for s in on_day))


def may_open_at(bounds: DayBounds, now: datetime, *, margin: timedelta = OPENING_MARGIN) -> bool:
    """Whether a segment of the day with ``bounds`` may open at ``now`` (pure: both given as data)."""
    return bounds.first_start - margin <= now <= bounds.last_end + margin


# -- applying events ------------------------------------------------------------------------------


def apply_stage(state: PublicState, event: StageEvent) -> PublicState:
    stage = state.stage
    match event:
        case SegmentOpened():
            segments = _with_segment(state, event.segment_id, status="live", opened_at=event.at)
            return state.model_copy(
                update={
                    "segments": segments,
                    "stage": stage.model_copy(update={"live_segment_id": event.segment_id, "drift_s": event.drift_s}),
                    "queue": SpeakersQueue(segment_id=event.segment_id, open=True, order=state.queue.order),
                }
            )
        case SegmentPaused():
            return state.model_copy(update={"segments": _with_segment(state, event.segment_id, status="paused")})
        case SegmentResumed():
            return state.model_copy(update={"segments": _with_segment(state, event.segment_id, status="live")})
        case SegmentEnded():
            segments = _with_segment(state, event.segment_id, status="ended", ended_at=event.at)
            stage = stage.model_copy(update={"live_segment_id": None, "drift_s": event.drift_s})
            return state.model_copy(update={"segments": segments, "stage": stage})
        case SpeechStarted():
            queue = state.queue
            if event.speech.entry_id is not None:
                queue = without_entry(queue, event.speech.entry_id)
            stage = stage.model_copy(update={"speech": event.speech})
            return state.model_copy(update={"stage": stage, "queue": queue})
        case SpeechPaused():
            return _with_speech(state, event.speech_id, paused_at=event.at)
        case SpeechResumed():
            return _with_speech(state, event.speech_id, paused_at=None, paused_s=event.paused_s)
        case SpeechLimitSet():
            return _with_speech(state, event.speech_id, limit_s=event.limit_s)
        case SpeechEnded():
            _current_speech(state, event.speech.id)
            return state.model_copy(update={"stage": stage.model_copy(update={"speech": None})})
        case NoticePosted():
            notice = Notice(text=event.text, posted_at=event.at)
            return state.model_copy(update={"stage": stage.model_copy(update={"notice": notice})})
        case NoticeCleared():
            return state.model_copy(update={"stage": stage.model_copy(update={"notice": None})})


def _with_segment(state: PublicState, segment_id: int, **changes: object) -> tuple[Segment, ...]:
    if segment_by_id(state, segment_id) is None:
        raise InconsistentEvent(f"no segment {segment_id}")
    return tuple(
        segment.model_copy(update=changes) if segment.id == segment_id else segment for segment in state.segments
    )


def _current_speech(state: PublicState, speech_id: int) -> Speech:
    speech = state.stage.speech
    if speech is None or speech.id != speech_id:
        raise InconsistentEvent(f"speech {speech_id} does not have the floor")
    return speech


def _with_speech(state: PublicState, speech_id: int, **changes: object) -> PublicState:
    speech = _current_speech(state, speech_id).model_copy(update=changes)
    return state.model_copy(update={"stage": state.stage.model_copy(update={"speech": speech})})


# -- deciding -------------------------------------------------------------------------------------


def _segment(tx: Transaction, segment_id: int) -> Segment:
    segment = segment_by_id(tx.public, segment_id)
    if segment is None:
        reject("not_found", f"there is no segment {segment_id}")
    return segment


def open_segment(tx: Transaction, command: SegmentOpen, actor: Actor, *, rehearsal: bool = False) -> None:
    segment = _segment(tx, command.segment_id)
    if segment.status != "scheduled":
        reject("invalid_transition", f"segment {segment.id} is {segment.status}, not scheduled")
    current = segment_in_progress(tx.public)
    if current is not None:
        reject("invalid_transition", f"segment {current.id} is still {current.status}: end it first")
    bounds = day_bounds(tx.public, segment.day)
    if not rehearsal and bounds is not None and not may_open_at(bounds, tx.now):
        earliest, latest = bounds.first_start - OPENING_MARGIN, bounds.last_end + OPENING_MARGIN
        reject(
            "outside_day",
            f"segment {segment.id} is on {segment.day.isoformat()}: it can be opened from "
            f"{earliest:%Y-%m-%d %H:%M}Z to {latest:%Y-%m-%d %H:%M}Z only",
        )
    drift = seconds_between(segment.starts_at, tx.now)
    tx.emit(SegmentOpened(segment_id=segment.id, at=tx.now, drift_s=drift))


def pause_segment(tx: Transaction, command: SegmentPause, actor: Actor) -> None:
    segment = _segment(tx, command.segment_id)
    if segment.status != "live":
        reject("invalid_transition", f"segment {segment.id} is {segment.status}, not live")
    speech = tx.public.stage.speech
    if speech is not None and speech.paused_at is None:
        tx.emit(SpeechPaused(speech_id=speech.id, at=tx.now))
    tx.emit(SegmentPaused(segment_id=segment.id, at=tx.now))


def resume_segment(tx: Transaction, command: SegmentResume, actor: Actor) -> None:
    segment = _segment(tx, command.segment_id)
    if segment.status != "paused":
        reject("invalid_transition", f"segment {segment.id} is {segment.status}, not paused")
    tx.emit(SegmentResumed(segment_id=segment.id, at=tx.now))


def end_segment(tx: Transaction, command: SegmentEnd, actor: Actor) -> None:
    segment = _segment(tx, command.segment_id)
    if segment.status not in ("live", "paused"):
        reject("invalid_transition", f"segment {segment.id} is {segment.status}, not live or paused")
    _end_current_speech(tx)
    if tx.public.queue.open:
        tx.emit(QueueClosed(at=tx.now))
    tx.emit(SegmentEnded(segment_id=segment.id, at=tx.now, drift_s=seconds_between(segment.ends_at, tx.now)))


def _end_current_speech(tx: Transaction) -> None:
    speech = tx.public.stage.speech
    if speech is not None:
        tx.emit(SpeechEnded(speech=speech, at=tx.now, duration_s=spoken_seconds(speech, tx.now)))


def grant_floor(tx: Transaction, command: FloorGrant, actor: Actor) -> None:
    segment = segment_in_progress(tx.public)
    if segment is None:
        reject("no_live_segment", "no segment is live")
    if segment.status == "paused":
        reject("invalid_transition", f"segment {segment.id} is paused: resume it first")
    if command.entry_id is not None:
        entry = entry_by_id(tx.public.queue, command.entry_id)
        if entry is None:
            reject("not_found", f"entry {command.entry_id} is not waiting")
        speech = Speech(
            id=tx.allocate("speech"),
            segment_id=segment.id,
            speaker_name=entry.name,
            organisation=entry.organisation,
            who=entry.who,
            entry_id=entry.id,
            on_behalf_of=entry.on_behalf_of,
            topic=entry.topic,
            point_of_order=entry.point_of_order,
            started_at=tx.now,
            limit_s=command.limit_s or INTERVENTION_LIMIT_S,
        )
    else:
        person = next((p for p in segment.people if p.id == command.person_id), None)
        if person is None:
            reject("not_found", f"person {command.person_id} is not in segment {segment.id}")
        speech = Speech(
            id=tx.allocate("speech"),
            segment_id=segment.id,
            speaker_name=person.name,
            person_id=person.id,
            started_at=tx.now,
            limit_s=command.limit_s or PROGRAMME_LIMIT_S[segment.kind],
        )
    _end_current_speech(tx)
    tx.emit(SpeechStarted(speech=speech))


def _speech(tx: Transaction) -> Speech:
    speech = tx.public.stage.speech
    if speech is None:
        reject("invalid_transition", "nobody has the floor")
    return speech


def pause_speech(tx: Transaction, command: SpeechPause, actor: Actor) -> None:
    speech = _speech(tx)
    if speech.paused_at is not None:
        reject("invalid_transition", "the speech is already paused")
    tx.emit(SpeechPaused(speech_id=speech.id, at=tx.now))


def resume_speech(tx: Transaction, command: SpeechResume, actor: Actor) -> None:
    speech = _speech(tx)
    if speech.paused_at is None:
        reject("invalid_transition", "the speech is not paused")
    segment = segment_in_progress(tx.public)
    if segment is not None and segment.status == "paused":
        reject("invalid_transition", f"segment {segment.id} is paused: resume it first")
    paused_s = speech.paused_s + max(0.0, seconds_between(speech.paused_at, tx.now))
    tx.emit(SpeechResumed(speech_id=speech.id, at=tx.now, paused_s=paused_s))


def end_speech(tx: Transaction, command: SpeechEnd, actor: Actor) -> None:
    _speech(tx)
    _end_current_speech(tx)


def set_speech_limit(tx: Transaction, command: SpeechSetLimit, actor: Actor) -> None:
    speech = _speech(tx)
    if speech.limit_s != command.seconds:
        tx.emit(SpeechLimitSet(speech_id=speech.id, limit_s=command.seconds))


def set_notice(tx: Transaction, command: NoticeSet, actor: Actor) -> None:
    notice = tx.public.stage.notice
    if notice is None or notice.text != command.text:
        tx.emit(NoticePosted(text=command.text, at=tx.now))


def clear_notice(tx: Transaction, command: NoticeClear, actor: Actor) -> None:
    if tx.public.stage.notice is not None:
        tx.emit(NoticeCleared(at=tx.now))
