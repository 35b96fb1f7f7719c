"""Written statements: who may write, until when, in what, and who sees what."""

from __future__ import annotations

from datetime import timedelta

import pytest

from server.core import CommandRejected, LiveState, decide, personal_view
from server.core.statements import StatementPolicy, deadline_of, window_of
from tests.core.helpers import (
    ATTENDEE,
    ATTENDEE_2,
    CLOSING_ID,
    MODERATOR,
    ORGANISER,
    PANEL_ID,
    act,
    assert_folds,
    at,
    command,
    live_panel,
    types,
)

POLICY = StatementPolicy(max_chars=40, languages=("fr", "en", "es"))


def _step(state: LiveState, kind: str, actor=MODERATOR, minute: float = 1, **fields) -> LiveState:  # type: ignore[no-untyped-def]
    new, emitted = act(state, kind, actor, at(minute), **fields)
    assert_folds(state, new, emitted)
    return new


def _ended_with_two_waiting() -> LiveState:
    s = _step(live_panel(), "floor.request", ATTENDEE_2, 32, on_behalf_of="Group of 77")
    s = _step(s, "floor.request", ATTENDEE, 33)
    s = _step(s, "floor.request", MODERATOR, 34)
    s = _step(s, "floor.withdraw", MODERATOR, 35)
    return _step(s, "segment.end", minute=100, segment_id=PANEL_ID)


def _submit(state: LiveState, actor=ATTENDEE, minute: float = 120, **fields):  # type: ignore[no-untyped-def]
    fields = {"segment_id": PANEL_ID, "language": "fr", "text": "Nous soutenons le pacte.", **fields}
    new, emitted = decide(
        state, command("statement.submit", **fields), actor=actor, now=at(minute), statement_policy=POLICY
    )
    assert_folds(state, new, emitted)
    return new, emitted


def test_a_segment_ending_with_people_waiting_opens_a_window_for_exactly_them() -> None:
    state = _ended_with_two_waiting()
    window = window_of(state.public, PANEL_ID)
    assert window is not None
    assert window.opened_at == at(100)
    assert [a.who for a in window.eligible] == [ATTENDEE_2.who, ATTENDEE.who]  # not the one who withdrew
    assert window.eligible[0].on_behalf_of == "Group of 77"
    assert deadline_of(state.public.statements.deadline, window) == at(100) + timedelta(hours=24)


def test_a_segment_ending_with_nobody_waiting_opens_no_window() -> None:
    state, emitted = act(live_panel(), "segment.end", MODERATOR, at(100), segment_id=PANEL_ID)
    assert ("public", "statements.opened") not in types(emitted)
    assert state.public.statements.windows == ()


def test_an_eligible_delegation_submits_and_only_it_and_the_staff_see_it_pending() -> None:
    state, emitted = _submit(_ended_with_two_waiting())
    assert types(emitted) == [("staff", "statement.submitted")]
    statement = state.staff.statements[0]
    assert (statement.id, statement.status, statement.language, statement.author.who) == (
        1,
        "pending",
        "fr",
        ATTENDEE.who,
    )
    assert state.public.statements.published == ()
    mine = personal_view(state, ATTENDEE).statements
    assert [(s.id, s.status) for s in mine] == [(1, "pending")]
    assert personal_view(state, ATTENDEE_2).statements == ()


def test_submitting_again_replaces_the_pending_statement_under_the_same_id() -> None:
    state, _ = _submit(_ended_with_two_waiting())
    state, emitted = _submit(state, minute=130, text="Corrected.", language="en")
    assert [(s.id, s.text, s.language) for s in state.staff.statements] == [(1, "Corrected.", "en")]
    assert state.counters.next_statement_id == 2
    assert emitted[0].event.statement.submitted_at == at(130)


@pytest.mark.parametrize(
    ("actor", "minute", "fields", "code"),
    [
        (ATTENDEE, 120, {"segment_id": 99}, "not_found"),
        (MODERATOR, 120, {}, "not_eligible"),  # withdrew before the end
        (ATTENDEE, 120, {"segment_id": CLOSING_ID}, "not_eligible"),  # not ended
        (ATTENDEE, 100 + 24 * 60 + 1, {}, "deadline_passed"),
        (ATTENDEE, 120, {"text": "x" * 41}, "invalid"),  # the event's limit, not the wire's
        (ATTENDEE, 120, {"language": "de"}, "invalid"),  # not a language of the event
    ],
)
def test_submissions_are_refused_outside_the_rules(actor, minute, fields, code) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CommandRejected) as refused:
        _submit(_ended_with_two_waiting(), actor, minute, **fields)
    assert refused.value.code == code


def test_the_deadline_is_checked_with_the_commands_time_up_to_the_last_instant() -> None:
    state = _ended_with_two_waiting()
    last = 100 + 24 * 60
    _submit(state, minute=last)
    with pytest.raises(CommandRejected, match="deadline_passed"):
        _submit(state, minute=last + 1 / 60)


def test_the_organiser_moves_the_deadline_for_open_windows_too() -> None:
    state = _ended_with_two_waiting()
    state = _step(state, "statements.set_deadline", ORGANISER, 101, after_s=3600)
    _submit(state, minute=160)
    with pytest.raises(CommandRejected, match="deadline_passed"):
        _submit(state, minute=161)
    state = _step(state, "statements.set_deadline", ORGANISER, 102, until="2022-03-01T12:00:00Z")
    _submit(state, minute=24 * 60 - 14 * 60 + 12 * 60 - 1)  # 11:59 UTC the next day
    _, emitted = act(state, "statements.set_deadline", ORGANISER, at(103), until="2022-03-01T12:00:00Z")
    assert emitted == []  # unchanged: no-op


def test_approval_publishes_the_statement_and_the_author_sees_it_approved() -> None:
    state, _ = _submit(_ended_with_two_waiting())
    new, emitted = act(state, "statement.approve", MODERATOR, at(125), statement_id=1)
    assert_folds(state, new, emitted)
    assert types(emitted) == [("staff", "statement.approved"), ("public", "statement.published")]
    published = new.public.statements.published[0]
    assert (published.text, published.language, published.author.name, published.published_at) == (
        "Nous soutenons le pacte.",
        "fr",
        ATTENDEE.display_name,
        at(125),
    )
    assert new.staff.statements == ()
    assert [(s.id, s.status) for s in personal_view(new, ATTENDEE).statements] == [(1, "approved")]
    with pytest.raises(CommandRejected, match="invalid_transition"):
        _submit(new, minute=130)  # an approved statement stays as published
    with pytest.raises(CommandRejected, match="invalid_transition"):
        act(new, "statement.reject", MODERATOR, at(131), statement_id=1)


def test_a_rejected_statement_tells_its_author_why_and_can_be_replaced() -> None:
    state, _ = _submit(_ended_with_two_waiting())
    state = _step(state, "statement.reject", MODERATOR, 125, statement_id=1, reason="Please shorten it")
    rejected = state.staff.statements[0]
    assert (rejected.status, rejected.reason, rejected.decided_by) == ("rejected", "Please shorten it", MODERATOR.who)
    assert [(s.status, s.reason) for s in personal_view(state, ATTENDEE).statements] == [
        ("rejected", "Please shorten it")
    ]
    with pytest.raises(CommandRejected, match="invalid_transition"):
        act(state, "statement.approve", MODERATOR, at(126), statement_id=1)
    state, _ = _submit(state, minute=127, text="Shorter.")
    assert [(s.id, s.status, s.reason) for s in state.staff.statements] == [(1, "pending", None)]


def test_unknown_statements_are_not_found() -> None:
    with pytest.raises(CommandRejected, match="not_found"):
        act(_ended_with_two_waiting(), "statement.approve", MODERATOR, at(125), statement_id=7)


def test_blank_reasons_mean_none_and_the_reason_is_never_public() -> None:
    state, _ = _submit(_ended_with_two_waiting())
    state, emitted = act(state, "statement.reject", MODERATOR, at(125), statement_id=1, reason="   ")
    assert emitted[0].event.reason is None
    assert all(channel == "staff" for channel, _ in emitted)


def test_the_wire_accepts_at_most_ten_thousand_characters_whatever_the_setting() -> None:
    command("statement.submit", segment_id=PANEL_ID, language="fr", text="x" * 10_000)
    with pytest.raises(ValueError):
        command("statement.submit", segment_id=PANEL_ID, language="fr", text="x" * 10_001)
    with pytest.raises(ValueError):
        command("statements.set_deadline", after_s=3600, until="2022-03-01T12:00:00Z")
    with pytest.raises(ValueError):
        command("statements.set_deadline")
