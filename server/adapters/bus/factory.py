"""Choose the bus backend from the settings: no Redis URL means the embedded, in-process bus."""

from __future__ import annotations

from server.adapters.bus.base import DEFAULT_MAX_QUEUE, Bus
from server.adapters.bus.memory import MemoryBus


def make_bus(redis_url: str, *, channel_prefix: str = "", max_queue: int = DEFAULT_MAX_QUEUE) -> Bus:
    """A not-yet-started bus; the app lifespan calls `start()` and `close()`.

    `channel_prefix` only matters for Redis (namespacing channels on a shared server); the memory
    bus lives in one process, where there is nothing to collide with.
    """
    if not redis_url:
        return MemoryBus(max_queue=max_queue)
    from server.adapters.bus.redis import RedisBus  # noqa: PLC0415 - the embedded mode never loads redis-py

    return RedisBus(redis_url, channel_prefix=channel_prefix, max_queue=max_queue)
