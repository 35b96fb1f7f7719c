"""The speaker's over-run moves the forecast: the live segment's projected end, and the end of the
morning once the break before the next segment is used up."""

from __future__ import annotations

from datetime import timedelta

from server.core import LiveState
from server.core.forecast import forecast
from tests.core.helpers import MODERATOR, SPEAKER_ID, act, at, live_panel


def granted(limit_s: int = 60) -> LiveState:
    state, _ = act(live_panel(), "floor.grant", MODERATOR, at(31), person_id=SPEAKER_ID, limit_s=limit_s)
    return state


def test_within_the_limit_the_forecast_is_the_schedule() -> None:
    result = forecast(granted(), at(31.5))
    assert result.drift_s == 0.0  # the panel opened on time and ends at 105
    assert result.forecast_end_of_day == at(180)


def test_each_second_over_the_limit_moves_the_end_of_the_live_segment() -> None:
    state = granted()
    assert forecast(state, at(42)).drift_s == 600.0  # 10 minutes over: the panel ends at 115
    assert forecast(state, at(42) + timedelta(seconds=30)).drift_s == 630.0


def test_the_end_of_the_morning_moves_once_the_break_is_used_up() -> None:
    state = granted()
    assert forecast(state, at(92)).forecast_end_of_day == at(180)  # 60 over: ends at 165, the closing starts on time
    assert forecast(state, at(102)).forecast_end_of_day == at(190)  # 70 over: the closing starts at 175


def test_a_paused_speech_does_not_run_over() -> None:
    state = granted()
    paused, _ = act(state, "speech.pause", MODERATOR, at(32))
    assert forecast(paused, at(60)).over_time_s == 0.0
    assert forecast(paused, at(60)).drift_s == 0.0
