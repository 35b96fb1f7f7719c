"""The rules of a live event, pure: no I/O, no clock, no framework, no database.

The service layer calls:

- ``new_live_state(segments, qa_moderation=True)`` once per event, from the programme;
- ``decide(state, command, actor=, now=)`` for each state command a client sends;
- ``record_vote_counts(state, counts, now=)``, ``record_poll_tallies(state, tallies, now=)`` and
  ``record_presence_counts(state, ...)`` for the
  coalesced counters it measures;
- ``apply_public`` / ``apply_staff`` to fold events (what clients do), ``views_for`` and
  ``personal_view`` to build snapshots, ``result_data`` for a ``result`` frame, ``forecast`` for
  drift and over-time.

``attendance`` (intervals) is separate from the live state.
"""

from server.core.apply import apply_all, apply_public, apply_staff
from server.core.decide import decide, record_poll_tallies, record_presence_counts, record_vote_counts
from server.core.forecast import forecast
from server.core.qa import rank_questions
from server.core.stage import INTERVENTION_LIMIT_S, PROGRAMME_LIMIT_S, spoken_seconds
from server.core.state import (
    Actor,
    CommandRejected,
    Counters,
    Emitted,
    InconsistentEvent,
    LiveState,
    new_live_state,
)
from server.core.views import personal_view, result_data, views_for

__all__ = [
    "INTERVENTION_LIMIT_S",
    "PROGRAMME_LIMIT_S",
    "Actor",
    "CommandRejected",
    "Counters",
    "Emitted",
    "InconsistentEvent",
    "LiveState",
    "apply_all",
    "apply_public",
    "apply_staff",
    "decide",
    "forecast",
    "new_live_state",
    "personal_view",
    "rank_questions",
    "record_poll_tallies",
    "record_presence_counts",
    "record_vote_counts",
    "result_data",
    "spoken_seconds",
    "views_for",
]
