"""The event's order of categories for the list of speakers by category (organisers edit it)."""

from __future__ import annotations

from collections.abc import Sequence

from server.adapters.db.models import Event
from server.core.model import Category
from server.core.speaking_order import DEFAULT_CATEGORY_ORDER, check_category_order


def category_order(event: Event) -> tuple[Category, ...]:
    """The order in force: the event's own, or the default one."""
    if event.speaking_order is None:
        return DEFAULT_CATEGORY_ORDER
    return check_category_order([str(name) for name in event.speaking_order])


def set_category_order(event: Event, names: Sequence[str] | None) -> tuple[Category, ...]:
    """Set the event's order (None: back to the default). Raises ``BadCategoryOrder``; the live list
    uses the new order from its next request or switch of mode."""
    event.speaking_order = None if names is None else list(check_category_order(names))
    return category_order(event)
