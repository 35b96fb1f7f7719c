"""The initial state, the views per role, the personal view, presence counts, purity."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from server.core import (
    CommandRejected,
    LiveState,
    new_live_state,
    personal_view,
    record_presence_counts,
    result_data,
    views_for,
)
from tests.core.cases import busy
from tests.core.helpers import (
    ATTENDEE,
    ATTENDEE_2,
    MODERATOR,
    ORGANISER,
    act,
    assert_folds,
    at,
    command,
    programme,
    types,
)


def test_a_new_state_has_every_segment_scheduled_in_schedule_order() -> None:
    segments = programme()
    state = new_live_state(list(reversed(segments)), qa_moderation=False)
    assert [s.id for s in state.public.segments] == [1, 2, 3]
    assert all(s.status == "scheduled" and s.opened_at is None for s in state.public.segments)
    assert state.public.stage.live_segment_id is None and state.public.stage.speech is None
    assert not state.public.queue.open and state.public.queue.waiting == ()
    assert state.staff.moderation is False
    assert new_live_state(segments).staff.moderation is True


def test_segment_ids_must_be_unique() -> None:
    segments = programme()
    with pytest.raises(ValueError):
        new_live_state([segments[0], segments[0]])


def test_the_state_round_trips_through_json() -> None:
    state, _ = record_presence_counts(busy(), online=3, peak_today=5, by_category={"media": 1}, now=at(50))
    assert LiveState.model_validate_json(state.model_dump_json()) == state
    assert LiveState.model_validate(json.loads(state.model_dump_json())) == state  # a JSON column
    assert LiveState.model_validate(state.model_dump(mode="json")) == state


def test_staff_views_only_for_staff_roles() -> None:
    state = busy()
    assert views_for(state, "attendee") == (state.public, None)
    assert views_for(state, "moderator") == (state.public, state.staff)
    assert views_for(state, "organiser") == (state.public, state.staff)


def test_personal_view_of_someone_who_did_nothing() -> None:
    me = personal_view(busy(), ATTENDEE_2.__class__(user_id=999, role="attendee", display_name="New", kind="attendee"))
    assert (me.who, me.waiting_entry_id, me.questions, me.voted) == ("attendee:999", None, (), ())


def test_personal_view_shows_the_waiting_entry() -> None:
    assert personal_view(busy(ATTENDEE), ATTENDEE).waiting_entry_id == 2
    assert personal_view(busy(ATTENDEE), ATTENDEE_2).waiting_entry_id == 1
    assert personal_view(busy(ATTENDEE), MODERATOR).role == "moderator"


def test_presence_counts_go_to_staff_when_they_change() -> None:
    state = busy()
    new, emitted = record_presence_counts(state, online=40, peak_today=38, by_category={"media": 2}, now=at(50))
    assert types(emitted) == [("staff", "presence.counts_updated")]
    assert_folds(state, new, emitted)
    assert (new.staff.presence.online, new.staff.presence.peak_today) == (40, 40)  # the peak includes now
    assert new.staff.presence.by_category == {"media": 2} and new.staff.presence.at == at(50)
    again = record_presence_counts(new, online=40, peak_today=40, by_category={"media": 2}, now=at(51))
    assert again == (new, [])


def test_ids_are_allocated_by_the_core_and_never_reused() -> None:
    state, _ = act(busy(), "queue.remove", entry_id=2)
    state, emitted = act(state, "floor.request", ORGANISER)
    assert emitted[0].event.entry.id == 3
    assert state.counters.next_entry_id == 4 and state.counters.next_question_id == 7


def test_a_refused_command_changes_nothing() -> None:
    state = busy()
    snapshot = state.model_dump_json()
    with pytest.raises(CommandRejected):
        act(state, "floor.request", ATTENDEE)
    assert state.model_dump_json() == snapshot


def test_result_data_names_what_a_command_created() -> None:
    state = busy(ATTENDEE)
    assert result_data(act(state, "floor.request", ORGANISER)[1]) == {"entry_id": 3, "position": 2}
    assert result_data(act(state, "question.ask", ORGANISER, text="Q?")[1]) == {"question_id": 7, "published": False}
    unmoderated, _ = act(state, "qa.set_moderation", enabled=False)
    assert result_data(act(unmoderated, "question.ask", ORGANISER, text="Q?")[1]) == {
        "question_id": 7,
        "published": True,
    }
    assert result_data(act(state, "floor.grant", entry_id=1)[1]) == {"speech_id": 2}
    assert result_data(act(state, "queue.close")[1]) is None
    assert result_data([]) is None


def test_decide_needs_an_aware_clock() -> None:
    from server.core import decide

    with pytest.raises(ValueError):
        decide(busy(), command("notice.clear"), actor=MODERATOR, now=datetime(2022, 2, 28, 14, 0))  # noqa: DTZ001 - naive on purpose


def test_events_that_do_not_fit_the_view_are_refused() -> None:
    from server.core import InconsistentEvent, apply_public, apply_staff
    from server.protocol import QaModerationSet, QuestionAnswered, QueueEntryRemoved, SpeechPaused

    state = busy()
    with pytest.raises(InconsistentEvent):
        apply_public(state.public, QaModerationSet(enabled=False, by="staff:1", at=at(50)))  # a staff event
    with pytest.raises(InconsistentEvent):
        apply_staff(state.staff, QuestionAnswered(question_id=2, at=at(50)))  # a public event
    with pytest.raises(InconsistentEvent):
        apply_public(state.public, QueueEntryRemoved(entry_id=99, reason="removed", at=at(50)))
    with pytest.raises(InconsistentEvent):
        apply_public(state.public, SpeechPaused(speech_id=99, at=at(50)))
