"""Live presence counts for the staff: the service measures them (coalesced), the core records them."""

from __future__ import annotations

from collections.abc import Mapping

from server.core.model import PresenceCounts, PresenceCountsUpdated, StaffState
from server.core.tx import Transaction


def apply_presence(state: StaffState, event: PresenceCountsUpdated) -> StaffState:
    counts = PresenceCounts(
        online=event.online, peak_today=event.peak_today, by_category=dict(event.by_category), at=event.at
    )
    return state.model_copy(update={"presence": counts})


def presence_counts(tx: Transaction, online: int, peak_today: int, by_category: Mapping[str, int]) -> None:
    """Emit new counts unless they are the ones already shown."""
    peak_today = max(peak_today, online)  # the peak includes now
    current = tx.staff.presence
    if (current.online, current.peak_today, current.by_category) != (online, peak_today, dict(by_category)):
        tx.emit(PresenceCountsUpdated(online=online, peak_today=peak_today, by_category=dict(by_category), at=tx.now))
