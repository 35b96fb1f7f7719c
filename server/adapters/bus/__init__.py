"""Pub/sub of encoded events between server processes: a memory backend (embedded) and Redis (production).

`from server.adapters.bus import make_bus, BusReset, BusUnavailable`; the Redis backend itself is
`server.adapters.bus.redis.RedisBus`, imported lazily by `make_bus`.
"""

from server.adapters.bus.base import (
    DEFAULT_MAX_QUEUE,
    Bus,
    BusItem,
    BusReset,
    BusUnavailable,
    Subscription,
)
from server.adapters.bus.factory import make_bus
from server.adapters.bus.memory import MemoryBus

__all__ = [
    "DEFAULT_MAX_QUEUE",
    "Bus",
    "BusItem",
    "BusReset",
    "BusUnavailable",
    "MemoryBus",
    "Subscription",
    "make_bus",
]
