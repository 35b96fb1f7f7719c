"""The stage: segment lifecycle, the floor and the speaker's clock, the notice, drift and forecast."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from server.core import CommandRejected, decide, forecast, spoken_seconds
from server.core.stage import DayBounds, day_bounds, may_open_at
from server.protocol import SegmentInfo
from tests.core.cases import busy
from tests.core.helpers import (
    ATTENDEE,
    ATTENDEE_2,
    CLOSING_ID,
    DAY,
    MODERATOR,
    OPENING_ID,
    PANEL_ID,
    SPEAKER_ID,
    act,
    at,
    command,
    fresh,
    live_panel,
    run,
    types,
)


def rejected(state, kind, actor=MODERATOR, now=None, **fields) -> str:
    with pytest.raises(CommandRejected) as error:
        act(state, kind, actor, now, **fields)
    return error.value.code


# -- segments -------------------------------------------------------------------------------------


def test_opening_a_segment_makes_it_live_with_an_open_empty_queue_and_its_drift() -> None:
    state, emitted = act(fresh(), "segment.open", now=at(33), segment_id=PANEL_ID)
    assert types(emitted) == [("public", "segment.opened")]
    panel = state.public.segments[1]
    assert (panel.status, panel.opened_at) == ("live", at(33))
    assert state.public.stage.live_segment_id == PANEL_ID
    assert state.public.stage.drift_s == 180.0  # scheduled at 30, opened at 33
    assert state.public.queue.segment_id == PANEL_ID and state.public.queue.open
    assert state.public.queue.waiting == ()


def test_opening_early_gives_a_negative_drift() -> None:
    state, _ = act(fresh(), "segment.open", now=at(-2), segment_id=OPENING_ID)
    assert state.public.stage.drift_s == -120.0


def test_a_segment_opens_only_within_its_day_two_hours_either_side() -> None:
    """The day runs from the opening (minute 0) to the closing's end (minute 180): a segment of it may
    open from 2 hours before to 2 hours after; a morning of 2022 cannot be opened in 2026."""
    for minute in (-120, 0, 100, 300):
        state, emitted = act(fresh(), "segment.open", now=at(minute), segment_id=PANEL_ID)
        assert types(emitted) == [("public", "segment.opened")]
    for minute in (-121, 301, 60 * 24):
        assert rejected(fresh(), "segment.open", now=at(minute), segment_id=PANEL_ID) == "outside_day"
    years_later = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    with pytest.raises(CommandRejected) as error:
        act(fresh(), "segment.open", now=years_later, segment_id=OPENING_ID)
    assert error.value.code == "outside_day" and "2022-02-28" in error.value.message
    assert error.value.message.endswith("from 2022-02-28 12:00Z to 2022-02-28 19:00Z only")


def test_a_rehearsal_copy_opens_its_segments_on_any_day() -> None:
    years_later = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    state, emitted = decide(
        fresh(), command("segment.open", segment_id=PANEL_ID), actor=MODERATOR, now=years_later, rehearsal=True
    )
    assert types(emitted) == [("public", "segment.opened")]


def test_the_day_bounds_are_data() -> None:
    bounds = day_bounds(fresh().public, DAY)
    assert bounds == DayBounds(at(0), at(180))
    assert day_bounds(fresh().public, DAY + timedelta(days=1)) is None
    assert may_open_at(bounds, at(-120)) and may_open_at(bounds, at(300))
    assert not may_open_at(bounds, at(-121)) and not may_open_at(bounds, at(301))
    assert may_open_at(bounds, at(-30), margin=timedelta(minutes=30))
    assert not may_open_at(bounds, at(-31), margin=timedelta(minutes=30))


def test_only_one_segment_can_be_live_or_paused() -> None:
    state = live_panel()
    assert rejected(state, "segment.open", segment_id=CLOSING_ID) == "invalid_transition"
    paused, _ = act(state, "segment.pause", segment_id=PANEL_ID)
    assert rejected(paused, "segment.open", segment_id=CLOSING_ID) == "invalid_transition"


def test_an_ended_segment_cannot_be_reopened() -> None:
    state, _ = act(live_panel(), "segment.end", now=at(100), segment_id=PANEL_ID)
    assert rejected(state, "segment.open", segment_id=PANEL_ID) == "invalid_transition"


def test_unknown_segments_are_not_found() -> None:
    for kind in ("segment.open", "segment.pause", "segment.resume", "segment.end"):
        assert rejected(live_panel(), kind, segment_id=99) == "not_found"


@pytest.mark.parametrize(
    ("kind", "status"),
    [("segment.pause", "scheduled"), ("segment.resume", "live"), ("segment.end", "scheduled")],
)
def test_segment_transitions_from_the_wrong_status_are_refused(kind: str, status: str) -> None:
    segment_id = PANEL_ID if status == "live" else CLOSING_ID
    assert rejected(live_panel(), kind, segment_id=segment_id) == "invalid_transition"


def test_pausing_a_segment_pauses_the_speech_and_resuming_it_does_not_restart_it() -> None:
    state = busy()
    state, emitted = act(state, "segment.pause", now=at(50), segment_id=PANEL_ID)
    assert types(emitted) == [("public", "speech.paused"), ("public", "segment.paused")]
    assert state.public.stage.speech.paused_at == at(50)
    assert rejected(state, "speech.resume", now=at(51)) == "invalid_transition"
    assert rejected(state, "floor.grant", now=at(51), person_id=SPEAKER_ID) == "invalid_transition"
    state, emitted = act(state, "segment.resume", now=at(55), segment_id=PANEL_ID)
    assert types(emitted) == [("public", "segment.resumed")]
    assert state.public.stage.speech.paused_at == at(50)
    state, _ = act(state, "speech.resume", now=at(56))
    assert state.public.stage.speech.paused_s == 360.0


def test_ending_a_segment_ends_the_speech_closes_the_queue_and_records_the_drift() -> None:
    state, emitted = act(busy(), "segment.end", now=at(110), segment_id=PANEL_ID)
    assert types(emitted) == [
        ("public", "speech.ended"),
        ("public", "queue.closed"),
        ("public", "segment.ended"),
        ("public", "statements.opened"),  # the two still waiting may write instead
    ]
    assert emitted[0].event.duration_s == (110 - 31) * 60
    assert state.public.stage.speech is None
    assert state.public.stage.live_segment_id is None
    assert state.public.stage.drift_s == 300.0  # scheduled end 105
    assert state.public.segments[1].status == "ended"
    assert not state.public.queue.open
    assert len(state.public.queue.waiting) == 2  # left visible until the next segment opens
    state, _ = act(state, "segment.open", now=at(170), segment_id=CLOSING_ID)
    assert state.public.queue.waiting == () and state.public.queue.segment_id == CLOSING_ID


def test_ending_a_segment_with_a_closed_queue_and_nobody_speaking_emits_only_the_end() -> None:
    state, _ = act(live_panel(), "queue.close")
    _, emitted = act(state, "segment.end", now=at(100), segment_id=PANEL_ID)
    assert types(emitted) == [("public", "segment.ended")]


# -- the floor ------------------------------------------------------------------------------------


def test_granting_an_entry_takes_it_off_the_queue_with_the_intervention_limit() -> None:
    state = run(
        live_panel(),
        ("floor.request", ATTENDEE, at(31), {"topic": "Funding", "on_behalf_of": "G77"}),
        ("floor.grant", MODERATOR, at(32), {"entry_id": 1}),
    )
    speech = state.public.stage.speech
    assert (speech.entry_id, speech.who, speech.speaker_name) == (1, ATTENDEE.who, ATTENDEE.display_name)
    assert (speech.topic, speech.on_behalf_of, speech.organisation) == ("Funding", "G77", "Ruritania")
    assert (speech.limit_s, speech.started_at) == (180, at(32))
    assert state.public.queue.waiting == ()


@pytest.mark.parametrize(("segment_id", "limit"), [(PANEL_ID, 420), (OPENING_ID, 300)])
def test_programme_people_get_the_limit_of_their_segment_kind(segment_id: int, limit: int) -> None:
    state, _ = act(fresh(), "segment.open", now=at(0), segment_id=segment_id)
    person = state.public.segments[segment_id - 1].people[-1]
    state, _ = act(state, "floor.grant", person_id=person.id)
    assert state.public.stage.speech.limit_s == limit
    assert state.public.stage.speech.person_id == person.id


def test_an_explicit_limit_overrides_the_default() -> None:
    state, _ = act(live_panel(), "floor.grant", person_id=SPEAKER_ID, limit_s=45)
    assert state.public.stage.speech.limit_s == 45


def test_granting_while_someone_speaks_ends_their_speech_first() -> None:
    state, emitted = act(busy(), "floor.grant", now=at(40), entry_id=1)
    assert types(emitted) == [("public", "speech.ended"), ("public", "speech.started")]
    ended = emitted[0].event
    assert (ended.speech.person_id, ended.at, ended.duration_s) == (SPEAKER_ID, at(40), 9 * 60)
    assert state.public.stage.speech.entry_id == 1


def test_granting_needs_a_live_segment_a_waiting_entry_or_a_person_of_the_segment() -> None:
    assert rejected(fresh(), "floor.grant", person_id=SPEAKER_ID) == "no_live_segment"
    assert rejected(live_panel(), "floor.grant", entry_id=5) == "not_found"
    assert rejected(live_panel(), "floor.grant", person_id=10) == "not_found"  # the opening's speaker


def test_the_speech_clock_excludes_pauses() -> None:
    state = run(
        live_panel(),
        ("floor.grant", MODERATOR, at(31), {"person_id": SPEAKER_ID}),
        ("speech.pause", MODERATOR, at(33), {}),
        ("speech.resume", MODERATOR, at(36), {}),
        ("speech.pause", MODERATOR, at(37), {}),
    )
    speech = state.public.stage.speech
    assert speech.paused_s == 180.0 and speech.paused_at == at(37)
    assert spoken_seconds(speech, at(50)) == 180.0  # 31→33 and 36→37
    state, emitted = act(state, "speech.end", now=at(50))
    assert emitted[0].event.duration_s == 180.0


def test_speech_commands_need_a_speech_in_the_right_state() -> None:
    state = live_panel()
    for kind, fields in [
        ("speech.pause", {}),
        ("speech.resume", {}),
        ("speech.end", {}),
        ("speech.set_limit", {"seconds": 60}),
    ]:
        assert rejected(state, kind, **fields) == "invalid_transition"
    speaking = busy()
    assert rejected(speaking, "speech.resume") == "invalid_transition"
    paused, _ = act(speaking, "speech.pause")
    assert rejected(paused, "speech.pause") == "invalid_transition"


def test_setting_the_limit_changes_it_once() -> None:
    state, emitted = act(busy(), "speech.set_limit", seconds=600)
    assert types(emitted) == [("public", "speech.limit_set")]
    assert state.public.stage.speech.limit_s == 600
    assert act(state, "speech.set_limit", seconds=600)[1] == []


def test_over_time_shows_in_the_forecast() -> None:
    state, _ = act(live_panel(), "floor.grant", now=at(31), entry_id=None, person_id=SPEAKER_ID, limit_s=60)
    assert forecast(state, at(31.5)).over_time_s == 0.0
    assert forecast(state, at(33)).over_time_s == 60.0
    assert forecast(state, at(33)).speech_elapsed_s == 120.0
    assert forecast(live_panel(), at(33)).over_time_s is None


# -- notice ---------------------------------------------------------------------------------------


def test_the_notice_is_posted_replaced_and_cleared() -> None:
    state, emitted = act(fresh(), "notice.set", now=at(1), text="  Starting soon  ")
    assert types(emitted) == [("public", "notice.posted")]
    assert (state.public.stage.notice.text, state.public.stage.notice.posted_at) == ("Starting soon", at(1))
    assert act(state, "notice.set", text="Starting soon")[1] == []
    state, _ = act(state, "notice.set", now=at(2), text="Now")
    assert state.public.stage.notice.text == "Now"
    state, emitted = act(state, "notice.clear")
    assert state.public.stage.notice is None
    assert act(state, "notice.clear")[1] == []


# -- forecast -------------------------------------------------------------------------------------


def test_forecast_before_anything_opens_is_on_schedule() -> None:
    result = forecast(fresh(), at(-10))
    assert (result.day, result.drift_s) == (programme_day(), 0.0)
    assert result.forecast_end_of_day == at(180)


def test_forecast_counts_an_overdue_start_as_drift_which_breaks_absorb() -> None:
    result = forecast(fresh(), at(5))
    assert result.drift_s == 300.0
    assert result.forecast_end_of_day == at(180)  # the 60-minute break before the closing absorbs 5


def test_forecast_of_a_live_segment_running_over() -> None:
    state, _ = act(fresh(), "segment.open", now=at(40), segment_id=PANEL_ID)
    assert forecast(state, at(50)).drift_s == 600.0  # will end at 115 instead of 105
    assert forecast(state, at(130)).drift_s == 1500.0  # still running at 130
    assert forecast(state, at(130)).forecast_end_of_day == at(180)
    assert forecast(state, at(170)).forecast_end_of_day == at(170 + 15)  # the closing cannot start yet


def test_forecast_after_the_day_uses_the_actual_end() -> None:
    state = run(
        fresh(),
        ("segment.open", MODERATOR, at(165), {"segment_id": CLOSING_ID}),
        ("segment.end", MODERATOR, at(184), {"segment_id": CLOSING_ID}),
    )
    result = forecast(state, at(200))
    assert result.forecast_end_of_day == at(184)
    assert result.drift_s == 240.0


def test_forecast_skips_segments_left_behind() -> None:
    state = run(
        fresh(),
        ("segment.open", MODERATOR, at(30), {"segment_id": PANEL_ID}),
        ("segment.end", MODERATOR, at(100), {"segment_id": PANEL_ID}),
    )
    result = forecast(state, at(120))
    assert result.drift_s == 0.0  # the opening never happened, but it is not "late"
    assert result.forecast_end_of_day == at(180)


def test_forecast_refuses_a_naive_clock() -> None:
    with pytest.raises(ValueError):
        forecast(fresh(), datetime(2022, 2, 28, 14, 0))  # noqa: DTZ001 - naive on purpose: refused


def test_instants_are_normalised_to_utc() -> None:
    new_york = timezone(timedelta(hours=-5))
    state, emitted = act(
        fresh(), "segment.open", now=datetime(2022, 2, 28, 9, 30, tzinfo=new_york), segment_id=PANEL_ID
    )
    assert emitted[0].event.at == at(30) and emitted[0].event.at.tzinfo == UTC
    assert state.public.stage.drift_s == 0.0


def test_a_segment_must_end_after_it_starts() -> None:
    with pytest.raises(ValueError):
        SegmentInfo(id=1, key="x", kind="panel", day=programme_day(), title={}, starts_at=at(10), ends_at=at(10))


def programme_day():
    return at(0).date()


def test_requests_for_the_floor_go_to_the_live_segment() -> None:
    state = run(live_panel(), ("floor.request", ATTENDEE_2, at(31), {}))
    assert state.public.queue.waiting[0].requested_at == at(31)
