"""Speaking order by category: the event's order of categories and where a request goes in it.

Many intergovernmental dialogues give the floor to Member States first, then intergovernmental
organisations, the UN system, civil society and the others. An event names its order of
categories (programme file ``speaking_order``, or the organiser API); without one,
``DEFAULT_CATEGORY_ORDER`` applies. Categories the order does not name, and requests without a
category (staff), rank after every named one, all alike (then by request time).

The queue keeps an explicit order (``SpeakersQueue.waiting``); the mode (``SpeakersQueue.order``)
only says where a *new* request goes and how the list is re-sorted once when the mode switches:

- points of order always go first, in request order;
- ``category`` mode: a new ordinary request goes right after the last waiting ordinary request of
  the same or an earlier category (after the points of order when there is none), so a moderator's
  moves by hand are kept; switching to it sorts the ordinary requests by (rank, request time);
- ``request`` mode: a new ordinary request goes last; switching to it sorts by request time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final, get_args

from server.core.model import Category, QueueEntry, QueueOrder

CATEGORIES: Final[tuple[Category, ...]] = get_args(Category)
"""Every attendee category, as registrations store it."""

DEFAULT_CATEGORY_ORDER: Final[tuple[Category, ...]] = (
    "member_state",
    "intergovernmental",
    "un_system",
    "civil_society",
)
"""Member States, intergovernmental organisations, UN system, civil society; the others after."""


class BadCategoryOrder(ValueError):
    """An order of categories that names an unknown category, or one twice."""


def check_category_order(names: Sequence[str]) -> tuple[Category, ...]:
    """``names`` as an order of categories; raises ``BadCategoryOrder`` naming the first fault."""
    known: dict[str, Category] = {category: category for category in CATEGORIES}
    order: list[Category] = []
    for name in names:
        category = known.get(name)
        if category is None:
            raise BadCategoryOrder(f"unknown category '{name}' (one of: {', '.join(CATEGORIES)})")
        if category in order:
            raise BadCategoryOrder(f"category '{name}' is listed twice")
        order.append(category)
    return tuple(order)


def known_category(name: str | None) -> Category | None:
    """``name`` if it is a category (a registration's), else None (staff have none)."""
    return next((category for category in CATEGORIES if category == name), None)


def category_rank(category: str | None, order: Sequence[str]) -> int:
    """0 for the first category of ``order``; ``len(order)`` for any other and for none."""
    return order.index(category) if category is not None and category in order else len(order)


def _head_length(waiting: Sequence[QueueEntry]) -> int:
    """How many points of order lead the list."""
    index = 0
    while index < len(waiting) and waiting[index].point_of_order:
        index += 1
    return index


def insertion_index(
    waiting: Sequence[QueueEntry],
    *,
    point_of_order: bool,
    category: str | None,
    mode: QueueOrder,
    order: Sequence[str],
) -> int:
    """Where a new request goes in ``waiting`` (see the module's rules)."""
    head = _head_length(waiting)
    if point_of_order:
        return head
    if mode == "request":
        return len(waiting)
    rank = category_rank(category, order)
    index = head
    for position, entry in enumerate(waiting):
        if not entry.point_of_order and category_rank(entry.category, order) <= rank:
            index = max(index, position + 1)
    return index


def sorted_waiting(waiting: Sequence[QueueEntry], *, mode: QueueOrder, order: Sequence[str]) -> tuple[QueueEntry, ...]:
    """The list re-sorted for ``mode``: points of order first by request time, then the others by
    (category rank, request time) or by request time alone; ties keep their current order."""

    def key(entry: QueueEntry) -> tuple[int, int, datetime]:
        rank = 0 if mode == "request" or entry.point_of_order else category_rank(entry.category, order)
        return (0 if entry.point_of_order else 1, rank, entry.requested_at)

    return tuple(sorted(waiting, key=key))
