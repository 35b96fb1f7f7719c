"""The speakers queue: bands, one entry per person, withdraw, remove, reorder, close and open."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.core import Actor, CommandRejected, LiveState, personal_view
from server.core.speakers import insertion_index
from tests.core.helpers import (
    ATTENDEE,
    ATTENDEE_2,
    MODERATOR,
    PANEL_ID,
    act,
    assert_folds,
    at,
    fresh,
    live_panel,
    run,
    types,
)

PEOPLE = [Actor(user_id=1000 + n, role="attendee", display_name=f"Person {n}", kind="attendee") for n in range(6)]


def names(state: LiveState) -> list[str]:
    return [entry.name for entry in state.public.queue.waiting]


def rejected(state, kind, actor=MODERATOR, **fields) -> str:
    with pytest.raises(CommandRejected) as error:
        act(state, kind, actor, **fields)
    return error.value.code


def test_a_request_joins_the_end_with_the_requester_and_their_details() -> None:
    state, emitted = act(live_panel(), "floor.request", ATTENDEE, at(31), topic=" Funding ", on_behalf_of="")
    assert types(emitted) == [("public", "floor.requested")]
    assert emitted[0].event.position == 0
    entry = state.public.queue.waiting[0]
    assert (entry.id, entry.who, entry.name, entry.organisation) == (1, "attendee:100", "Ana Attendee", "Ruritania")
    assert (entry.topic, entry.on_behalf_of, entry.point_of_order, entry.requested_at) == (
        "Funding",
        None,
        False,
        at(31),
    )
    assert personal_view(state, ATTENDEE).waiting_entry_id == 1


def test_points_of_order_go_before_ordinary_requests_in_request_order() -> None:
    a, b, c, d = PEOPLE[:4]
    state = run(
        live_panel(),
        ("floor.request", a, at(31), {}),
        ("floor.request", b, at(32), {"point_of_order": True}),
        ("floor.request", c, at(33), {}),
        ("floor.request", d, at(34), {"point_of_order": True}),
    )
    assert names(state) == ["Person 1", "Person 3", "Person 0", "Person 2"]


def test_a_point_of_order_goes_after_the_leading_points_of_order_even_after_a_reorder() -> None:
    a, b, c = PEOPLE[:3]
    state = run(
        live_panel(),
        ("floor.request", a, at(31), {"point_of_order": True}),
        ("floor.request", b, at(32), {}),
        ("queue.reorder", MODERATOR, at(33), {"entry_ids": [2, 1]}),
        ("floor.request", c, at(34), {"point_of_order": True}),
    )
    assert names(state) == ["Person 2", "Person 1", "Person 0"]


def test_one_waiting_entry_per_person() -> None:
    state, _ = act(live_panel(), "floor.request", ATTENDEE)
    assert rejected(state, "floor.request", ATTENDEE) == "already_waiting"
    assert rejected(state, "floor.request", ATTENDEE, point_of_order=True) == "already_waiting"


def test_requests_need_a_live_segment_and_an_open_list_except_points_of_order() -> None:
    assert rejected(fresh(), "floor.request", ATTENDEE) == "no_live_segment"
    closed, emitted = act(live_panel(), "queue.close")
    assert types(emitted) == [("public", "queue.closed")]
    assert rejected(closed, "floor.request", ATTENDEE) == "list_closed"
    state, _ = act(closed, "floor.request", ATTENDEE, point_of_order=True)
    assert names(state) == ["Ana Attendee"]
    assert act(closed, "queue.close")[1] == []
    reopened, emitted = act(closed, "queue.open")
    assert types(emitted) == [("public", "queue.opened")] and reopened.public.queue.open
    assert act(reopened, "queue.open")[1] == []


def test_the_list_can_only_be_reopened_while_a_segment_runs() -> None:
    ended, _ = act(live_panel(), "segment.end", now=at(100), segment_id=PANEL_ID)
    assert rejected(ended, "queue.open") == "no_live_segment"
    paused, _ = act(live_panel(), "segment.pause", segment_id=PANEL_ID)
    closed, _ = act(paused, "queue.close")
    assert act(closed, "queue.open")[0].public.queue.open


def test_withdraw_removes_only_ones_own_entry() -> None:
    state = run(live_panel(), ("floor.request", ATTENDEE, at(31), {}), ("floor.request", ATTENDEE_2, at(32), {}))
    state, emitted = act(state, "floor.withdraw", ATTENDEE_2)
    assert emitted[0].event.reason == "withdrawn" and emitted[0].event.entry_id == 2
    assert names(state) == ["Ana Attendee"]
    assert rejected(state, "floor.withdraw", ATTENDEE_2) == "not_found"
    assert personal_view(state, ATTENDEE_2).waiting_entry_id is None


def test_a_moderator_removes_any_entry() -> None:
    state = run(live_panel(), ("floor.request", ATTENDEE, at(31), {}))
    state, emitted = act(state, "queue.remove", entry_id=1)
    assert emitted[0].event.reason == "removed" and names(state) == []
    assert rejected(state, "queue.remove", entry_id=1) == "not_found"


def test_reorder_must_name_every_waiting_entry_exactly_once() -> None:
    state = run(live_panel(), *[("floor.request", p, at(31 + i), {}) for i, p in enumerate(PEOPLE[:3])])
    for order in ([1, 2], [1, 2, 3, 4], [1, 1, 2], [3, 2, 2], []):
        assert rejected(state, "queue.reorder", entry_ids=order) == "reorder_mismatch"
    assert act(state, "queue.reorder", entry_ids=[1, 2, 3])[1] == []
    state, emitted = act(state, "queue.reorder", entry_ids=[3, 1, 2])
    assert emitted[0].event.entry_ids == (3, 1, 2)
    assert names(state) == ["Person 2", "Person 0", "Person 1"]


def test_insertion_index() -> None:
    assert insertion_index((), True) == 0
    assert insertion_index((), False) == 0


# -- properties -----------------------------------------------------------------------------------

operations = st.lists(
    st.one_of(
        st.tuples(st.just("request"), st.integers(0, 5), st.booleans()),
        st.tuples(st.just("withdraw"), st.integers(0, 5)),
        st.tuples(st.just("remove"), st.integers(0, 7)),
        st.tuples(st.just("grant"), st.integers(0, 7)),
        st.tuples(st.just("close")),
        st.tuples(st.just("open")),
    ),
    max_size=40,
)


def _step(state: LiveState, op: tuple, minute: float) -> LiveState:
    """Apply one operation; a refusal must leave the state untouched and be the expected one."""
    kind = op[0]
    waiting = state.public.queue.waiting
    try:
        if kind == "request":
            new, emitted = act(state, "floor.request", PEOPLE[op[1]], at(minute), point_of_order=op[2])
        elif kind == "withdraw":
            new, emitted = act(state, "floor.withdraw", PEOPLE[op[1]], at(minute))
        elif kind in ("remove", "grant"):
            entry_id = waiting[op[1] % len(waiting)].id if waiting and op[1] < 6 else 999
            if kind == "remove":
                new, emitted = act(state, "queue.remove", MODERATOR, at(minute), entry_id=entry_id)
            else:
                new, emitted = act(state, "floor.grant", MODERATOR, at(minute), entry_id=entry_id)
        else:
            new, emitted = act(state, f"queue.{kind}", MODERATOR, at(minute))
    except CommandRejected as error:
        if kind == "request":
            mine = any(e.who == PEOPLE[op[1]].who for e in waiting)
            assert error.code == ("already_waiting" if mine else "list_closed")
            assert not state.public.queue.open or mine
        else:
            assert error.code == "not_found"
        return state
    assert_folds(state, new, emitted)
    return new


def _invariants(state: LiveState) -> None:
    waiting = state.public.queue.waiting
    users = [entry.who for entry in waiting]
    assert len(users) == len(set(users)), "one waiting entry per person"
    expected = sorted(waiting, key=lambda e: (not e.point_of_order, e.requested_at, e.id))
    assert list(waiting) == expected, "points of order first, request order in each band"


@settings(max_examples=150, deadline=None)
@given(operations)
def test_queue_order_holds_after_any_requests_withdrawals_removals_and_grants(ops: list[tuple]) -> None:
    state = live_panel()
    for step, op in enumerate(ops):
        state = _step(state, op, 31 + step * 0.5)
        _invariants(state)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.booleans()), max_size=6, unique_by=lambda t: t[0]), st.randoms())
def test_reorder_is_exactly_the_permutation_given(requests: list[tuple[int, bool]], random) -> None:
    state = live_panel()
    for i, (person, point_of_order) in enumerate(requests):
        state, _ = act(
            state, "floor.request", PEOPLE[person], at(31) + timedelta(seconds=i), point_of_order=point_of_order
        )
    ids = [entry.id for entry in state.public.queue.waiting]
    order = ids[:]
    random.shuffle(order)
    new, emitted = act(state, "queue.reorder", entry_ids=order)
    assert_folds(state, new, emitted)
    assert [entry.id for entry in new.public.queue.waiting] == order
    assert sorted(new.public.queue.waiting, key=lambda e: e.id) == sorted(
        state.public.queue.waiting, key=lambda e: e.id
    )
    if ids:
        with pytest.raises(CommandRejected) as error:
            act(state, "queue.reorder", entry_ids=order[:-1])
        assert error.value.code == "reorder_mismatch"
