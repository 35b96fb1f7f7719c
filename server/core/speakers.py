"""The speakers queue of the live segment (the moderator's list of speakers).

Order: points of order first, then ordinary requests, each band in request order; a moderator's
reorder may then put any entry anywhere. A new point of order goes right after the run of points
of order at the head of the list; a new ordinary request goes last, or, when the list is ordered
by category, after the last request of the same or an earlier category (``core.speaking_order``).
One waiting entry per person. The list may be closed to ordinary requests; points of order are
still accepted.
"""

from __future__ import annotations

from collections.abc import Sequence

from server.core import speaking_order
from server.core.model import (
    FloorRequest,
    FloorRequested,
    FloorWithdraw,
    PublicState,
    QueueClose,
    QueueClosed,
    QueueEntry,
    QueueEntryRemoved,
    QueueOpen,
    QueueOpened,
    QueueOrderSet,
    QueueRemove,
    QueueReorder,
    QueueReordered,
    QueueSetOrder,
    SpeakersQueue,
)
from server.core.model.events import QueueEvent
from server.core.state import Actor, InconsistentEvent
from server.core.tx import Transaction, reject

# -- reading the state ----------------------------------------------------------------------------


def entry_by_id(queue: SpeakersQueue, entry_id: int) -> QueueEntry | None:
    return next((entry for entry in queue.waiting if entry.id == entry_id), None)


def entry_of(queue: SpeakersQueue, who: str) -> QueueEntry | None:
    """The waiting entry of the person ``who`` (a person reference), if any."""
    return next((entry for entry in queue.waiting if entry.who == who), None)


def insertion_index(waiting: tuple[QueueEntry, ...], point_of_order: bool) -> int:
    """Where a new request goes in request order: after the leading points of order, or last."""
    return speaking_order.insertion_index(
        waiting, point_of_order=point_of_order, category=None, mode="request", order=()
    )


def without_entry(queue: SpeakersQueue, entry_id: int) -> SpeakersQueue:
    if entry_by_id(queue, entry_id) is None:
        raise InconsistentEvent(f"entry {entry_id} is not waiting")
    waiting = tuple(entry for entry in queue.waiting if entry.id != entry_id)
    return queue.model_copy(update={"waiting": waiting})


# -- applying events ------------------------------------------------------------------------------


def apply_queue(state: PublicState, event: QueueEvent) -> PublicState:
    queue = state.queue
    match event:
        case FloorRequested():
            if not 0 <= event.position <= len(queue.waiting) or entry_by_id(queue, event.entry.id):
                raise InconsistentEvent(f"cannot insert entry {event.entry.id} at {event.position}")
            waiting = (*queue.waiting[: event.position], event.entry, *queue.waiting[event.position :])
            queue = queue.model_copy(update={"waiting": waiting})
        case QueueEntryRemoved():
            queue = without_entry(queue, event.entry_id)
        case QueueReordered():
            by_id = {entry.id: entry for entry in queue.waiting}
            if sorted(event.entry_ids) != sorted(by_id):
                raise InconsistentEvent("the new order is not a permutation of the waiting entries")
            queue = queue.model_copy(update={"waiting": tuple(by_id[i] for i in event.entry_ids)})
        case QueueClosed():
            queue = queue.model_copy(update={"open": False})
        case QueueOpened():
            queue = queue.model_copy(update={"open": True})
        case QueueOrderSet():
            queue = queue.model_copy(update={"order": event.order})
    return state.model_copy(update={"queue": queue})


# -- deciding -------------------------------------------------------------------------------------


def _require_segment_in_progress(tx: Transaction) -> int:
    segment_id = tx.public.stage.live_segment_id
    if segment_id is None:
        reject("no_live_segment", "no segment is live")
    return segment_id


def request_floor(
    tx: Transaction,
    command: FloorRequest,
    actor: Actor,
    *,
    category_order: Sequence[str] = speaking_order.DEFAULT_CATEGORY_ORDER,
) -> None:
    _require_segment_in_progress(tx)
    queue = tx.public.queue
    if entry_of(queue, actor.who) is not None:
        reject("already_waiting", "you are already on the list of speakers")
    if not queue.open and not command.point_of_order:
        reject("list_closed", "the list of speakers is closed")
    entry = QueueEntry(
        id=tx.allocate("entry"),
        who=actor.who,
        name=actor.display_name,
        organisation=actor.organisation,
        on_behalf_of=command.on_behalf_of,
        topic=command.topic,
        point_of_order=command.point_of_order,
        requested_at=tx.now,
        category=actor.category,
    )
    position = speaking_order.insertion_index(
        queue.waiting,
        point_of_order=command.point_of_order,
        category=actor.category,
        mode=queue.order,
        order=category_order,
    )
    tx.emit(FloorRequested(entry=entry, position=position))


def withdraw_request(tx: Transaction, command: FloorWithdraw, actor: Actor) -> None:
    entry = entry_of(tx.public.queue, actor.who)
    if entry is None:
        reject("not_found", "you are not on the list of speakers")
    tx.emit(QueueEntryRemoved(entry_id=entry.id, reason="withdrawn", at=tx.now))


def remove_entry(tx: Transaction, command: QueueRemove, actor: Actor) -> None:
    if entry_by_id(tx.public.queue, command.entry_id) is None:
        reject("not_found", f"entry {command.entry_id} is not waiting")
    tx.emit(QueueEntryRemoved(entry_id=command.entry_id, reason="removed", at=tx.now))


def reorder_queue(tx: Transaction, command: QueueReorder, actor: Actor) -> None:
    current = [entry.id for entry in tx.public.queue.waiting]
    if sorted(command.entry_ids) != sorted(current):
        reject("reorder_mismatch", "the new order must name every waiting entry exactly once")
    if command.entry_ids != current:
        tx.emit(QueueReordered(entry_ids=tuple(command.entry_ids)))


def set_queue_order(
    tx: Transaction,
    command: QueueSetOrder,
    actor: Actor,
    *,
    category_order: Sequence[str] = speaking_order.DEFAULT_CATEGORY_ORDER,
) -> None:
    queue = tx.public.queue
    if queue.order == command.order:
        return
    tx.emit(QueueOrderSet(order=command.order, at=tx.now))
    resorted = speaking_order.sorted_waiting(queue.waiting, mode=command.order, order=category_order)
    if resorted != queue.waiting:
        tx.emit(QueueReordered(entry_ids=tuple(entry.id for entry in resorted)))


def close_queue(tx: Transaction, command: QueueClose, actor: Actor) -> None:
    if tx.public.queue.open:
        tx.emit(QueueClosed(at=tx.now))


def open_queue(tx: Transaction, command: QueueOpen, actor: Actor) -> None:
    _require_segment_in_progress(tx)
    if not tx.public.queue.open:
        tx.emit(QueueOpened(at=tx.now))
