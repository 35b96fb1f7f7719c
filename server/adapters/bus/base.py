"""The bus interface: a few verbs, text in, text out, and an explicit "you may have missed something".

The bus only fans out already-encoded messages between server processes. It is not the record:
events and their `seq` live in the database, so a consumer that is told it may have missed
messages (`BusReset`) reloads a snapshot instead of the bus trying to replay. That lets every
queue be bounded: when one overflows we throw its content away and say so, rather than let one
slow consumer grow memory without limit or hold the publisher back.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import deque
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, runtime_checkable

DEFAULT_MAX_QUEUE = 10_000

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BusReset:
    """Messages may have been lost before this point: resync from the database.

    `reason` is for logs only ("overflow", "reconnected"); consumers treat every reset alike.
    """

    reason: str


BusItem = str | BusReset


class BusUnavailable(Exception):
    """The message could not be handed to the bus (Redis down or unreachable).

    The change is committed already; the caller logs this and carries on. Clients notice the gap
    from the `seq` in the next event or heartbeat and resync.
    """


class SubscriptionState(enum.Enum):
    NEW = "new"
    ACTIVE = "active"
    CLOSED = "closed"


class BoundedInbox:
    """A single-consumer FIFO that never blocks the producer.

    `asyncio.Queue(maxsize)` would make the producer wait (or raise QueueFull and lose the newest
    message silently); here overflow drops the backlog and leaves one `BusReset`, so the consumer
    learns about the loss and catches up from a snapshot, which is cheaper than draining 10,000
    stale messages anyway.
    """

    __slots__ = ("_items", "maxsize", "_waiter", "_closed", "overflows")

    def __init__(self, maxsize: int = DEFAULT_MAX_QUEUE) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self._items: deque[BusItem] = deque()
        self.maxsize = maxsize
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self.overflows = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, message: str) -> bool:
        """Queue a message; returns False when that overflowed the inbox (backlog replaced by a reset)."""
        if self._closed:
            return True
        if len(self._items) >= self.maxsize:
            self.overflows += 1
            self.put_reset(BusReset("overflow"))
            return False
        self._items.append(message)
        self._wake()
        return True

    def put_reset(self, reset: BusReset) -> None:
        """Everything queued before a reset is covered by the snapshot the consumer will load."""
        if self._closed:
            return
        self._items.clear()
        self._items.append(reset)
        self._wake()

    def close(self) -> None:
        """End the consumer's iteration (once the backlog is drained is pointless: the bus is gone)."""
        self._closed = True
        self._items.clear()
        self._wake()

    async def get(self) -> BusItem:
        """The next item; raises `StopAsyncIteration` once closed."""
        while not self._items:
            if self._closed:
                raise StopAsyncIteration
            if self._waiter is not None:
                raise RuntimeError("a subscription has one reader at a time")
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.popleft()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class SubscriptionOwner(Protocol):
    """What a backend provides to its subscriptions: register on enter, unregister on exit."""

    async def _attach(self, subscription: Subscription) -> None: ...

    async def _detach(self, subscription: Subscription) -> None: ...


class Subscription:
    """One consumer of one topic: an async context manager and an async iterator of `BusItem`.

    Entering returns only when the backend is listening, so "subscribe, then load the snapshot"
    cannot miss a message published in between. Leaving unregisters it (and, on Redis, unsubscribes
    the topic when it was the last local consumer).
    """

    def __init__(self, owner: SubscriptionOwner, topic: str, *, max_queue: int = DEFAULT_MAX_QUEUE) -> None:
        self.topic = topic
        self.inbox = BoundedInbox(max_queue)
        self.state = SubscriptionState.NEW
        self._owner = owner

    async def __aenter__(self) -> Subscription:
        if self.state is not SubscriptionState.NEW:
            raise RuntimeError(f"subscription to {self.topic!r} is {self.state.value}; create a new one")
        self.state = SubscriptionState.ACTIVE
        try:
            await self._owner._attach(self)
        except BaseException:
            self.state = SubscriptionState.CLOSED
            self.inbox.close()
            raise
        return self

    async def __aexit__(
        self, _exc_type: type[BaseException] | None, _exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        if self.state is not SubscriptionState.ACTIVE:
            return
        self.state = SubscriptionState.CLOSED
        self.inbox.close()
        await self._owner._detach(self)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> BusItem:
        if self.state is SubscriptionState.NEW:
            raise RuntimeError("enter the subscription (`async with bus.subscribe(...)`) before reading it")
        return await self.inbox.get()

    async def get(self) -> BusItem:
        """The next message or reset; raises `StopAsyncIteration` when the subscription or bus closed."""
        return await self.__anext__()

    def deliver(self, message: str) -> None:
        """Called by the backend for each message of this topic; never blocks."""
        self.inbox.put(message)

    def reset(self, reason: str) -> None:
        self.inbox.put_reset(BusReset(reason))

    def close(self) -> None:
        """The bus is closing: end iteration; a later `__aexit__` has nothing left to do."""
        self.state = SubscriptionState.CLOSED
        self.inbox.close()


def log_overflow(subscription: Subscription) -> None:
    """Warn on the 1st, 10th, 100th... overflow of a subscription: a stuck consumer must not flood the log."""
    overflows = subscription.inbox.overflows
    if overflows == 10 ** (len(str(overflows)) - 1):
        log.warning(
            "bus: subscriber of %s overflowed %d time(s) (%d queued); it was told to resync",
            subscription.topic,
            overflows,
            subscription.inbox.maxsize,
        )


@runtime_checkable
class Bus(Protocol):
    """Pub/sub of encoded text between processes. Publish after commit; the database is the record."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, topic: str, message: str) -> None:
        """Hand `message` to every current subscriber of `topic`; raises `BusUnavailable` if it cannot."""
        ...

    def subscribe(self, topic: str, *, max_queue: int | None = None) -> Subscription:
        """A not-yet-entered subscription: `async with bus.subscribe(topic) as sub: async for item in sub:`.

        `max_queue` overrides the bus default for this subscription (messages held before a reset).
        """
        ...

    async def healthy(self) -> bool: ...

    def subscriber_count(self, topic: str) -> int:
        """Active local subscriptions of `topic` in this process (for metrics and leak tests)."""
        ...
