"""Q&A: asking, moderation, votes, highlight, answer, archive, restore, ranking."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.core import Actor, CommandRejected, LiveState, personal_view, rank_questions, record_vote_counts
from tests.core.cases import ANSWERED, APPROVED, ARCHIVED, DISMISSED, HIGHLIGHTED, PENDING, busy
from tests.core.helpers import (
    ATTENDEE,
    ATTENDEE_2,
    MODERATOR,
    PANEL_ID,
    SPEAKER_ID,
    act,
    assert_folds,
    at,
    fresh,
    live_panel,
    types,
)


def rejected(state, kind, actor=MODERATOR, **fields) -> str:
    with pytest.raises(CommandRejected) as error:
        act(state, kind, actor, **fields)
    return error.value.code


def public_ids(state: LiveState) -> list[int]:
    return [q.id for q in state.public.questions]


def staff_ids(state: LiveState) -> list[int]:
    return [q.id for q in state.staff.questions]


def test_a_question_is_pending_for_staff_only_with_its_asker() -> None:
    state, emitted = act(
        live_panel(), "question.ask", ATTENDEE, at(31), text=" Why? ", anonymous=True, addressed_to=SPEAKER_ID
    )
    assert types(emitted) == [("staff", "question.asked")]
    question = state.staff.questions[0]
    assert (question.text, question.anonymous, question.addressed_to, question.segment_id) == (
        "Why?",
        True,
        SPEAKER_ID,
        PANEL_ID,
    )
    assert (question.asker.who, question.asker.name, question.status) == (
        ATTENDEE.who,
        ATTENDEE.display_name,
        "pending",
    )
    assert state.public.questions == ()
    mine = personal_view(state, ATTENDEE).questions
    assert [(q.id, q.status, q.text) for q in mine] == [(1, "pending", "Why?")]
    assert personal_view(state, ATTENDEE_2).questions == ()


def test_asking_needs_a_live_segment_and_a_person_of_it() -> None:
    assert rejected(fresh(), "question.ask", ATTENDEE, text="Hello?") == "no_live_segment"
    assert rejected(live_panel(), "question.ask", ATTENDEE, text="Hello?", addressed_to=10) == "not_found"


def test_without_moderation_a_question_is_published_at_once() -> None:
    state, _ = act(live_panel(), "qa.set_moderation", enabled=False)
    state, emitted = act(state, "question.ask", ATTENDEE, at(31), text="Open?", anonymous=False)
    assert types(emitted) == [
        ("staff", "question.asked"),
        ("staff", "question.approved"),
        ("public", "question.published"),
    ]
    assert emitted[1].event.by is None
    published = state.public.questions[0]
    assert (published.text, published.asker_name, published.asker_organisation) == (
        "Open?",
        "Ana Attendee",
        "Ruritania",
    )
    assert state.staff.questions == () and state.staff.provenance[1].approved_by is None


def test_anonymous_questions_are_published_without_a_name_but_staff_keep_it() -> None:
    state, _ = act(live_panel(), "question.ask", ATTENDEE, text="Who?", anonymous=True)
    state, _ = act(state, "question.approve", question_id=1)
    assert state.public.questions[0].asker_name is None
    assert state.public.questions[0].asker_organisation is None
    assert state.staff.provenance[1].asker.who == ATTENDEE.who
    assert personal_view(state, ATTENDEE).questions[0].status == "published"


def test_approving_with_an_edit_keeps_the_askers_words_for_staff() -> None:
    state, emitted = act(busy(), "question.approve", now=at(50), question_id=PENDING, text="Better?")
    assert types(emitted) == [("staff", "question.approved"), ("public", "question.published")]
    assert public_ids(state) == [PENDING, APPROVED, ANSWERED, ARCHIVED, HIGHLIGHTED]
    assert state.public.questions[0].text == "Better?"
    assert state.public.questions[0].published_at == at(50)
    facts = state.staff.provenance[PENDING]
    assert (facts.original_text, facts.edited_by, facts.approved_by) == (
        "Question 1?",
        MODERATOR.who,
        MODERATOR.who,
    )


def test_editing_a_pending_question() -> None:
    state, emitted = act(busy(), "question.edit", question_id=PENDING, text="Reworded?")
    assert types(emitted) == [("staff", "question.edited")]
    state, _ = act(state, "question.edit", question_id=PENDING, text="Again?")
    question = state.staff.questions[0]
    assert (question.text, question.original_text) == ("Again?", "Question 1?")
    assert act(state, "question.edit", question_id=PENDING, text="Again?")[1] == []
    state, _ = act(state, "question.approve", question_id=PENDING)
    assert state.staff.provenance[PENDING].original_text == "Question 1?"


@pytest.mark.parametrize("kind", ["question.approve", "question.edit"])
def test_only_pending_questions_can_be_approved_or_edited(kind: str) -> None:
    fields = {"text": "X?"} if kind == "question.edit" else {}
    for question_id in (APPROVED, DISMISSED, ARCHIVED):
        assert rejected(busy(), kind, question_id=question_id, **fields) == "invalid_transition"
    assert rejected(busy(), kind, question_id=99, **fields) == "not_found"


def test_dismissing_pending_and_published_questions() -> None:
    state, emitted = act(busy(), "question.dismiss", now=at(50), question_id=PENDING)
    assert types(emitted) == [("staff", "question.dismissed")]
    assert state.staff.questions[0].status == "dismissed" and state.staff.questions[0].dismissed_by == MODERATOR.who
    state, emitted = act(state, "question.dismiss", question_id=HIGHLIGHTED)
    assert types(emitted) == [("public", "question.unpublished"), ("staff", "question.dismissed")]
    assert HIGHLIGHTED not in public_ids(state) and HIGHLIGHTED in staff_ids(state)
    assert state.public.highlighted_question_id is None
    assert HIGHLIGHTED not in state.staff.provenance
    assert state.staff.questions[-1].asker.who == ATTENDEE.who
    assert rejected(state, "question.dismiss", question_id=DISMISSED) == "invalid_transition"
    assert rejected(state, "question.dismiss", question_id=99) == "not_found"


def test_restore_undoes_a_dismissal_or_an_archiving() -> None:
    state, emitted = act(busy(), "question.restore", question_id=DISMISSED)
    assert types(emitted) == [("staff", "question.undismissed")]
    assert state.staff.questions[-1].status == "pending" and state.staff.questions[-1].dismissed_by is None
    state, emitted = act(state, "question.restore", question_id=ARCHIVED)
    assert types(emitted) == [("public", "question.unarchived")]
    assert emitted[0].event.status == "approved"
    answered_then_archived, _ = act(busy(), "question.archive", question_id=ANSWERED)
    state, emitted = act(answered_then_archived, "question.restore", question_id=ANSWERED)
    assert emitted[0].event.status == "answered"
    for question_id in (PENDING, APPROVED, ANSWERED):
        assert rejected(busy(), "question.restore", question_id=question_id) == "invalid_transition"


def test_one_question_is_highlighted_at_a_time_and_answering_clears_it() -> None:
    state, emitted = act(busy(), "question.highlight", question_id=APPROVED)
    assert state.public.highlighted_question_id == APPROVED
    assert act(state, "question.highlight", question_id=APPROVED)[1] == []
    for question_id in (ANSWERED, ARCHIVED, PENDING):
        assert rejected(state, "question.highlight", question_id=question_id) == "invalid_transition"
    assert rejected(state, "question.highlight", question_id=99) == "not_found"
    state, _ = act(state, "question.answer", now=at(60), question_id=APPROVED)
    assert state.public.highlighted_question_id is None
    answered = next(q for q in state.public.questions if q.id == APPROVED)
    assert (answered.status, answered.answered_at) == ("answered", at(60))
    cleared, emitted = act(busy(), "question.highlight", question_id=None)
    assert cleared.public.highlighted_question_id is None
    assert act(cleared, "question.highlight", question_id=None)[1] == []


def test_archiving_clears_the_highlight() -> None:
    state, _ = act(busy(), "question.archive", question_id=HIGHLIGHTED)
    assert state.public.highlighted_question_id is None
    assert rejected(state, "question.archive", question_id=HIGHLIGHTED) == "invalid_transition"
    assert rejected(state, "question.archive", question_id=PENDING) == "invalid_transition"
    assert rejected(state, "question.answer", question_id=ANSWERED) == "invalid_transition"


def test_votes_are_checked_by_the_core_and_counted_by_the_service() -> None:
    state = busy()
    for question_id in (APPROVED, ANSWERED):
        assert act(state, "question.vote", ATTENDEE, question_id=question_id, up=True) == (state, [])
    assert rejected(state, "question.vote", ATTENDEE, question_id=ARCHIVED, up=True) == "invalid_transition"
    assert rejected(state, "question.vote", ATTENDEE, question_id=PENDING, up=True) == "not_found"
    assert rejected(state, "question.vote", ATTENDEE, question_id=DISMISSED, up=False) == "not_found"
    new, emitted = record_vote_counts(state, {APPROVED: 3, ANSWERED: 0, PENDING: 5, 99: 1}, now=at(50))
    assert types(emitted) == [("public", "question.votes_updated")]
    assert emitted[0].event.counts == {APPROVED: 3}
    assert_folds(state, new, emitted)
    assert record_vote_counts(new, {APPROVED: 3}, now=at(51)) == (new, [])
    with pytest.raises(ValueError):
        record_vote_counts(new, {APPROVED: -1}, now=at(51))


def test_personal_view_lists_votes_on_published_questions_only() -> None:
    me = personal_view(busy(), ATTENDEE, voted=[APPROVED, PENDING, 99])
    assert me.voted == (APPROVED,)
    assert [q.id for q in me.questions] == [PENDING, APPROVED, ANSWERED, ARCHIVED, HIGHLIGHTED]


def test_switching_moderation() -> None:
    state, emitted = act(busy(), "qa.set_moderation", enabled=False)
    assert types(emitted) == [("staff", "qa.moderation_set")] and not state.staff.moderation
    assert PENDING in staff_ids(state)  # pending questions stay pending
    assert act(state, "qa.set_moderation", enabled=False)[1] == []


def test_ranking_by_votes_then_time_or_by_time() -> None:
    state, _ = record_vote_counts(busy(), {APPROVED: 1, ANSWERED: 4, HIGHLIGHTED: 4}, now=at(50))
    by_votes = [q.id for q in rank_questions(state.public.questions, "votes")]
    assert by_votes == [ANSWERED, HIGHLIGHTED, APPROVED, ARCHIVED]
    assert [q.id for q in rank_questions(state.public.questions, "time")] == [APPROVED, ANSWERED, ARCHIVED, HIGHLIGHTED]


# -- properties -----------------------------------------------------------------------------------

ASKERS = [Actor(user_id=2000 + n, role="attendee", display_name=f"Asker {n}", kind="attendee") for n in range(3)]
MODERATION = [
    "question.approve",
    "question.dismiss",
    "question.highlight",
    "question.answer",
    "question.archive",
    "question.restore",
]

qa_operations = st.lists(
    st.one_of(
        st.tuples(st.just("ask"), st.integers(0, 2), st.booleans()),
        st.tuples(st.sampled_from(MODERATION), st.integers(1, 8)),
        st.tuples(st.just("moderation"), st.booleans()),
        st.tuples(st.just("votes"), st.dictionaries(st.integers(1, 8), st.integers(0, 50), max_size=4)),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(qa_operations)
def test_every_question_lives_in_exactly_one_view_and_at_most_one_is_highlighted(ops: list[tuple]) -> None:
    state = live_panel()
    asked: set[int] = set()
    for step, op in enumerate(ops):
        now = at(31 + step)
        try:
            if op[0] == "ask":
                new, emitted = act(state, "question.ask", ASKERS[op[1]], now, text=f"Q{step}?", anonymous=op[2])
            elif op[0] == "moderation":
                new, emitted = act(state, "qa.set_moderation", MODERATOR, now, enabled=op[1])
            elif op[0] == "votes":
                new, emitted = record_vote_counts(state, op[1], now=now)
            else:
                new, emitted = act(state, op[0], MODERATOR, now, question_id=op[1])
        except CommandRejected as error:
            assert error.code in {"not_found", "invalid_transition"}
            continue
        assert_folds(state, new, emitted)
        state = new
        if op[0] == "ask":
            asked.add(state.counters.next_question_id - 1)
        public, staff = set(public_ids(state)), set(staff_ids(state))
        assert not public & staff
        assert public | staff == asked
        assert set(state.staff.provenance) == public
        assert all(q.votes >= 0 for q in state.public.questions)
        highlighted = state.public.highlighted_question_id
        assert (
            highlighted is None or next(q for q in state.public.questions if q.id == highlighted).status == "approved"
        )
        for q in state.public.questions:
            if state.staff.provenance[q.id].anonymous:
                assert q.asker_name is None
