"""How late the event runs, when the day will end, whether the speaker is over time.

A pure function of the public view and the clock, so the frontend can compute the same between
events. The state itself keeps ``stage.drift_s`` (opened − scheduled start when a segment opens,
ended − scheduled end when it ends) so it is deterministic; ``forecast`` projects with ``now``.

The projection: the live segment is expected to run its scheduled length from when it opened,
plus the time the current speaker has run over their limit (that time was not in the plan, so
each second of over-run moves the forecast by a second), and to end no earlier than now. Each
remaining segment of the day starts at the latest of its scheduled start, the projected end of
the one before, and now; it then runs its scheduled length.
So a break absorbs lateness, and running early never makes a later segment start before its
announced time (people join at those times). Segments scheduled before one that has already been
opened count as skipped.

- ``drift_s`` (positive = late): with a live or paused segment, its projected end − scheduled
  end; between segments, how late the next segment will start (never negative); after the day's
  last segment, how late it ended.
- ``forecast_end_of_day``: the projected end of the day's last segment; the actual end once all
  segments of the day are over. The day in view is that of the live segment, else of the next
  segment, else of the last ended one.
- ``speech_elapsed_s`` / ``over_time_s``: time on the floor (pauses excluded) and how far past its
  limit, for the current speech.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from server.core.model import Forecast, PublicState, Segment
from server.core.stage import segment_in_progress, spoken_seconds
from server.core.state import LiveState, seconds_between, utc_instant


def forecast(state: LiveState | PublicState, now: datetime) -> Forecast:
    public = state.public if isinstance(state, LiveState) else state
    now = utc_instant(now)
    live = segment_in_progress(public)
    opened = [s for s in public.segments if s.status != "scheduled"]
    high_water = max((s.starts_at for s in opened), default=None)
    ahead = sorted(
        (s for s in public.segments if s.status == "scheduled" and (high_water is None or s.starts_at >= high_water)),
        key=lambda s: (s.starts_at, s.id),
    )
    ended = [s for s in public.segments if s.status == "ended" and s.ended_at is not None]
    last_ended = max(ended, key=lambda s: (_ended_at(s), s.id), default=None)

    day: date | None = live.day if live else ahead[0].day if ahead else last_ended.day if last_ended else None
    cursor: datetime | None = None  # projected end of the segment before
    drift = 0.0
    speech = public.stage.speech
    elapsed = spoken_seconds(speech, now) if speech is not None else None
    over_time = max(0.0, elapsed - speech.limit_s) if speech is not None and elapsed is not None else None
    if live is not None:
        overrun = timedelta(seconds=over_time or 0.0)
        cursor = max((live.opened_at or now) + (live.ends_at - live.starts_at) + overrun, now)
        drift = seconds_between(live.ends_at, cursor)
    elif last_ended is not None and last_ended.day == day:
        cursor = _ended_at(last_ended)
        drift = seconds_between(last_ended.ends_at, cursor)

    remaining = [s for s in ahead if s.day == day]
    if live is None and remaining:
        first = remaining[0]
        drift = max(0.0, seconds_between(first.starts_at, max(first.starts_at, cursor or now, now)))
    for segment in remaining:
        start = max(segment.starts_at, now, cursor or now)
        cursor = start + (segment.ends_at - segment.starts_at)

    return Forecast(day=day, drift_s=drift, forecast_end_of_day=cursor, speech_elapsed_s=elapsed, over_time_s=over_time)


def _ended_at(segment: Segment) -> datetime:
    assert segment.ended_at is not None
    return segment.ended_at
