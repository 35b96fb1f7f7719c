"""The verification throttle: unknown or malformed codes per client address in a sliding window.

As the staff sign-in throttle (``sign_in_audit``): only failures count, per client address, within
``PARLEY_VERIFY_WINDOW_S``; past ``PARLEY_VERIFY_MAX_FAILURES_PER_ADDRESS`` every lookup from that
address answers 429 with ``Retry-After`` until the oldest counted failure leaves the window. With
100-bit codes guessing is hopeless anyway; the throttle keeps anyone from trying at volume. It is
kept in each server process's memory (bounded: the least recently seen addresses are forgotten
first), so N replicas allow N times the limit; a restart forgets it.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from datetime import datetime, timedelta

MAX_ADDRESSES = 10_000


class VerifyThrottle:
    def __init__(self, window: timedelta, limit: int, max_addresses: int = MAX_ADDRESSES) -> None:
        self.window, self.limit, self.max_addresses = window, limit, max_addresses
        self._failures: OrderedDict[str, deque[datetime]] = OrderedDict()

    def _recent(self, address: str, now: datetime) -> deque[datetime] | None:
        failures = self._failures.get(address)
        if failures is None:
            return None
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[address]
            return None
        return failures

    def retry_after(self, address: str, now: datetime) -> int | None:
        """Seconds until ``address`` may look a code up again, or None when it may now."""
        failures = self._recent(address, now)
        if failures is None or len(failures) < self.limit:
            return None
        return max(1, math.ceil((failures[-self.limit] + self.window - now).total_seconds()))

    def failed(self, address: str, now: datetime) -> None:
        failures = self._recent(address, now) or deque()
        failures.append(now)
        self._failures[address] = failures
        self._failures.move_to_end(address)
        while len(self._failures) > self.max_addresses:
            self._failures.popitem(last=False)
