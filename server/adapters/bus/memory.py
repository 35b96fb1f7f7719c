"""The in-process bus of the embedded mode (one server process) and of the tests.

Publishing is a plain loop of non-blocking appends to each subscriber's bounded inbox: a consumer
that stops reading overflows its own inbox (and gets a `BusReset`) without slowing anyone else.
"""

from __future__ import annotations

import logging

from server.adapters.bus.base import DEFAULT_MAX_QUEUE, Subscription, log_overflow

log = logging.getLogger(__name__)


class MemoryBus:
    """Fan-out inside one event loop; nothing crosses a process boundary."""

    def __init__(self, *, max_queue: int = DEFAULT_MAX_QUEUE) -> None:
        self.max_queue = max_queue
        self._topics: dict[str, list[Subscription]] = {}
        self._started = False
        self._closed = False

    async def start(self) -> None:
        if self._closed:
            raise RuntimeError("a closed bus cannot be started again")
        self._started = True

    async def close(self) -> None:
        self._closed = True
        for subscriptions in self._topics.values():
            for subscription in subscriptions:
                subscription.close()
        self._topics.clear()

    async def publish(self, topic: str, message: str) -> None:
        self._require_running()
        # No await in this loop, so no subscriber can come or go while we iterate.
        for subscription in self._topics.get(topic, ()):
            if not subscription.inbox.put(message):
                log_overflow(subscription)

    def subscribe(self, topic: str, *, max_queue: int | None = None) -> Subscription:
        return Subscription(self, topic, max_queue=self.max_queue if max_queue is None else max_queue)

    async def healthy(self) -> bool:
        return self._started and not self._closed

    def subscriber_count(self, topic: str) -> int:
        return len(self._topics.get(topic, ()))

    async def _attach(self, subscription: Subscription) -> None:
        self._require_running()
        self._topics.setdefault(subscription.topic, []).append(subscription)

    async def _detach(self, subscription: Subscription) -> None:
        subscriptions = self._topics.get(subscription.topic)
        if subscriptions is None:
            return
        try:
            subscriptions.remove(subscription)
        except ValueError:
            return
        if not subscriptions:
            del self._topics[subscription.topic]

    def _require_running(self) -> None:
        if not self._started:
            raise RuntimeError("bus not started: call `await bus.start()` (the app lifespan does)")
        if self._closed:
            raise RuntimeError("bus is closed")
