"""How late the event runs, when the day will end, whether the speaker is over time.

A pure function of the public view and the clock, so the frontend can compute the same between
events. The state itself keeps ``stage.drift_s`` from the instants segments opened and ended, so
it is deterministic; ``forecast`` refines it with ``now``.

Drift (seconds, positive = late):
- a segment is live or paused: ``max(opened − scheduled start, now − scheduled end)`` (it is
  assumed to run its scheduled length from when it opened, and it is at least as late as it
  already overruns);
- otherwise: the last ended segment's ``ended − scheduled end`` if it is on the day in view, and
  at least ``now − scheduled start`` of the next scheduled segment once that start has passed.

The day in view is that of the live segment, else of the next scheduled segment, else of the last
ended one. Forecast end of that day: if all its segments ended, the last actual end; otherwise its
last scheduled end plus the drift when late. Running early does not end the day early: later
segments keep their announced starts, people join at those times.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from server.core.stage import segment_in_progress, spoken_seconds
from server.core.state import LiveState, seconds_between, utc_instant
from server.protocol import Forecast, PublicState, Segment


def forecast(state: LiveState | PublicState, now: datetime) -> Forecast:
    public = state.public if isinstance(state, LiveState) else state
    now = utc_instant(now)
    live = segment_in_progress(public)
    upcoming = min(
        (s for s in public.segments if s.status == "scheduled"), key=lambda s: (s.starts_at, s.id), default=None
    )
    last_ended = max(
        (s for s in public.segments if s.status == "ended" and s.ended_at is not None),
        key=lambda s: (_ended_at(s), s.id),
        default=None,
    )

    if live is not None:
        day = live.day
        opened_at = live.opened_at or now
        drift = max(seconds_between(live.starts_at, opened_at), seconds_between(live.ends_at, now))
    else:
        reference = upcoming or last_ended
        day = reference.day if reference else None
        drift = 0.0
        if last_ended is not None and last_ended.day == day:
            drift = seconds_between(last_ended.ends_at, _ended_at(last_ended))
        if upcoming is not None and now > upcoming.starts_at:
            drift = max(drift, seconds_between(upcoming.starts_at, now))

    speech = public.stage.speech
    elapsed = spoken_seconds(speech, now) if speech is not None else None
    return Forecast(
        day=day,
        drift_s=drift,
        forecast_end_of_day=_end_of_day([s for s in public.segments if s.day == day], drift),
        speech_elapsed_s=elapsed,
        over_time_s=max(0.0, elapsed - speech.limit_s) if speech is not None and elapsed is not None else None,
    )


def _ended_at(segment: Segment) -> datetime:
    assert segment.ended_at is not None
    return segment.ended_at


def _end_of_day(segments: list[Segment], drift_s: float) -> datetime | None:
    if not segments:
        return None
    if all(s.status == "ended" for s in segments):
        return max(_ended_at(s) for s in segments)
    return max(s.ends_at for s in segments) + timedelta(seconds=max(0.0, drift_s))
