"""Speaking order by category: points of order first, category ranks, ties by request time, moves
by hand kept until the next switch, switching back and forth, and the mode across segments."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.core import Actor, CommandRejected, LiveState, decide
from server.core.model import Category
from server.core.speaking_order import (
    CATEGORIES,
    DEFAULT_CATEGORY_ORDER,
    BadCategoryOrder,
    category_rank,
    check_category_order,
)
from tests.core.helpers import CLOSING_ID, MODERATOR, PANEL_ID, assert_folds, at, command, live_panel, types


def delegate(n: int, category: Category | None) -> Actor:
    return Actor(user_id=n, role="attendee", display_name=f"Delegate {n}", kind="attendee", category=category)


MS1, MS2 = delegate(1, "member_state"), delegate(2, "member_state")
IGO, UN = delegate(3, "intergovernmental"), delegate(4, "un_system")
CSO, ACADEMIA = delegate(5, "civil_society"), delegate(6, "academia")
STAFF = Actor(user_id=9, role="moderator", display_name="Mo", kind="staff")  # no category


def step(
    state: LiveState,
    kind: str,
    actor: Actor,
    minute: float,
    categories: Sequence[str] = DEFAULT_CATEGORY_ORDER,
    **fields: object,
) -> LiveState:
    new, emitted = decide(state, command(kind, **fields), actor=actor, now=at(minute), category_order=categories)
    assert_folds(state, new, emitted)
    return new


def request(state: LiveState, actor: Actor, minute: float, *, point_of_order: bool = False) -> LiveState:
    return step(state, "floor.request", actor, minute, point_of_order=point_of_order)


def switch(
    state: LiveState, order: str, minute: float = 50, categories: Sequence[str] = DEFAULT_CATEGORY_ORDER
) -> LiveState:
    return step(state, "queue.set_order", MODERATOR, minute, categories, order=order)


def names(state: LiveState) -> list[str]:
    return [entry.name.removeprefix("Delegate ") for entry in state.public.queue.waiting]


def by_category() -> LiveState:
    return switch(live_panel(), "category", minute=31)


def test_the_default_order_puts_member_states_first_then_igos_un_system_civil_society_others() -> None:
    assert DEFAULT_CATEGORY_ORDER == ("member_state", "intergovernmental", "un_system", "civil_society")
    ranks = [category_rank(c, DEFAULT_CATEGORY_ORDER) for c in CATEGORIES]
    assert dict(zip(CATEGORIES, ranks, strict=True)) == {
        "member_state": 0,
        "intergovernmental": 1,
        "un_system": 2,
        "civil_society": 3,
        "academia": 4,
        "media": 4,
        "other": 4,
    }
    assert category_rank(None, DEFAULT_CATEGORY_ORDER) == 4


def test_a_category_order_refuses_unknown_and_repeated_names() -> None:
    assert check_category_order(["civil_society", "member_state"]) == ("civil_society", "member_state")
    with pytest.raises(BadCategoryOrder, match="unknown category 'states'"):
        check_category_order(["member_state", "states"])
    with pytest.raises(BadCategoryOrder, match="'un_system' is listed twice"):
        check_category_order(["un_system", "un_system"])


def test_the_request_carries_the_category_of_the_requester() -> None:
    s = request(live_panel(), IGO, 31)
    s = request(s, STAFF, 32)
    assert [e.category for e in s.public.queue.waiting] == ["intergovernmental", None]


def test_in_request_order_a_new_request_goes_last_whatever_its_category() -> None:
    s = live_panel()
    for minute, actor in enumerate((CSO, UN, MS1), start=31):
        s = request(s, actor, minute)
    assert names(s) == ["5", "4", "1"]
    assert s.public.queue.order == "request"


def test_by_category_a_request_goes_after_its_own_and_earlier_categories() -> None:
    s = by_category()
    s = request(s, CSO, 32)
    s = request(s, ACADEMIA, 33)
    s = request(s, UN, 34)
    s = request(s, MS1, 35)
    s = request(s, IGO, 36)
    s = request(s, MS2, 37)  # after MS1: same category, later request
    s = request(s, STAFF, 38)  # no category: with the others, last
    assert names(s) == ["1", "2", "3", "4", "5", "6", "Mo"]


def test_points_of_order_stay_ahead_in_both_modes() -> None:
    s = by_category()
    s = request(s, CSO, 32)
    s = request(s, MS1, 33)
    s = request(s, ACADEMIA, 34, point_of_order=True)
    s = request(s, UN, 35, point_of_order=True)
    assert names(s) == ["6", "4", "1", "5"]
    s = switch(s, "request")
    assert names(s) == ["6", "4", "5", "1"]
    s = request(s, IGO, 52, point_of_order=True)
    assert names(s) == ["6", "4", "3", "5", "1"]


def test_the_event_order_of_categories_decides_the_ranks() -> None:
    order = check_category_order(["civil_society", "member_state"])
    s = switch(live_panel(), "category", minute=31, categories=order)
    s = step(s, "floor.request", MS1, 32, order)
    s = step(s, "floor.request", UN, 33, order)  # not named: after both named categories
    s = step(s, "floor.request", CSO, 34, order)
    assert names(s) == ["5", "1", "4"]


def test_switching_to_category_sorts_once_by_rank_then_request_time_and_back_by_request_time() -> None:
    s = live_panel()
    for minute, actor in enumerate((CSO, MS2, UN, MS1, IGO), start=31):
        s = request(s, actor, minute)
    assert names(s) == ["5", "2", "4", "1", "3"]
    new, emitted = decide(s, command("queue.set_order", order="category"), actor=MODERATOR, now=at(40))
    assert types(emitted) == [("public", "queue.order_set"), ("public", "queue.reordered")]
    assert_folds(s, new, emitted)
    assert names(new) == ["2", "1", "3", "4", "5"]
    assert new.public.queue.order == "category"
    back = switch(new, "request", minute=41)
    assert names(back) == ["5", "2", "4", "1", "3"]
    assert back.public.queue.order == "request"


def test_switching_to_the_mode_in_force_is_a_no_op_and_an_unchanged_order_emits_no_reorder() -> None:
    s = by_category()
    _, emitted = decide(s, command("queue.set_order", order="category"), actor=MODERATOR, now=at(40))
    assert emitted == []
    s = request(s, MS1, 32)
    _, emitted = decide(s, command("queue.set_order", order="request"), actor=MODERATOR, now=at(40))
    assert types(emitted) == [("public", "queue.order_set")]


def test_a_move_by_hand_is_kept_until_the_next_switch() -> None:
    s = by_category()
    s = request(s, MS1, 32)
    s = request(s, CSO, 33)
    s = request(s, ACADEMIA, 34)
    assert names(s) == ["1", "5", "6"]
    ids = {e.name: e.id for e in s.public.queue.waiting}
    s = step(s, "queue.reorder", MODERATOR, 35, entry_ids=[ids["Delegate 6"], ids["Delegate 1"], ids["Delegate 5"]])
    assert names(s) == ["6", "1", "5"]
    # a new Member State goes after the last waiting request of its rank or better: after 1, before 5
    s = request(s, MS2, 36)
    assert names(s) == ["6", "1", "2", "5"]
    # a new UN request goes after the last of ranks 0..2, i.e. still after 2; academia stays first
    s = request(s, UN, 37)
    assert names(s) == ["6", "1", "2", "4", "5"]
    s = switch(s, "request", minute=38)
    assert names(s) == ["1", "5", "6", "2", "4"]
    s = switch(s, "category", minute=39)
    assert names(s) == ["1", "2", "4", "5", "6"]


def test_the_mode_is_kept_when_the_next_segment_opens() -> None:
    s = by_category()
    s = step(s, "segment.end", MODERATOR, 100, segment_id=PANEL_ID)
    s = step(s, "segment.open", MODERATOR, 165, segment_id=CLOSING_ID)
    assert s.public.queue.order == "category"
    assert s.public.queue.segment_id == CLOSING_ID
    s = request(s, CSO, 166)
    s = request(s, MS1, 167)
    assert names(s) == ["1", "5"]


def test_attendees_cannot_switch_the_mode() -> None:
    with pytest.raises(CommandRejected) as caught:
        decide(live_panel(), command("queue.set_order", order="category"), actor=MS1, now=at(31))
    assert caught.value.code == "forbidden"


_category = st.sampled_from((*CATEGORIES, None))
_request = st.tuples(_category, st.booleans())


@settings(max_examples=60, deadline=None)
@given(st.lists(_request, max_size=12))
def test_by_category_inserting_one_by_one_equals_sorting_once(requests: list[tuple[Category | None, bool]]) -> None:
    """Without moves by hand, the list built request by request in category mode is the list that
    switching to category mode sorts: the two rules agree."""
    built = by_category()
    plain = live_panel()
    for n, (category, point_of_order) in enumerate(requests, start=1):
        actor = delegate(n, category)
        built = request(built, actor, 31 + n * 0.1, point_of_order=point_of_order)
        plain = request(plain, actor, 31 + n * 0.1, point_of_order=point_of_order)
    sorted_once = switch(plain, "category", minute=45)
    assert names(built) == names(sorted_once)
    waiting = built.public.queue.waiting
    heads = [e.point_of_order for e in waiting]
    assert heads == sorted(heads, reverse=True)  # points of order first
    ranks = [category_rank(e.category, DEFAULT_CATEGORY_ORDER) for e in waiting if not e.point_of_order]
    assert ranks == sorted(ranks)
