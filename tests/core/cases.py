"""For every state command, states where it is legal: the catalogue the fold and matrix tests share.

A case builds its state for a given actor (``floor.withdraw`` needs the actor's own entry), then
names the command's fields. ``busy`` is the morning in full swing: the panel live, a programme
speaker on the floor, two people waiting, a notice, questions in every state, one highlighted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from server.core import Actor, LiveState, record_poll_tallies
from server.protocol import ALLOWED_ROLES, STATE_COMMAND_CLASSES, PollTally, type_tag
from tests.core.helpers import (
    ATTENDEE,
    ATTENDEE_2,
    CLOSING_ID,
    MODERATOR,
    ORGANISER,
    PANEL_ID,
    SPEAKER_ID,
    act,
    at,
    live_panel,
)

# question ids in ``busy``
PENDING, APPROVED, ANSWERED, ARCHIVED, DISMISSED, HIGHLIGHTED = 1, 2, 3, 4, 5, 6


def _then(state: LiveState, kind: str, actor: Actor = MODERATOR, minute: float = 40, **fields: Any) -> LiveState:
    return act(state, kind, actor, at(minute), **fields)[0]


BYSTANDER = Actor(user_id=150, role="attendee", display_name="Cy Bystander", kind="attendee")


def busy(actor: Actor = ATTENDEE) -> LiveState:
    """``actor`` has the second place in the queue (a point of order, entry 2)."""
    s = live_panel()
    s = _then(s, "floor.grant", minute=31, person_id=SPEAKER_ID)
    s = _then(s, "notice.set", minute=31, text="The next panel starts at 10:52")
    s = _then(s, "floor.request", ATTENDEE_2, 32, topic="Funding", on_behalf_of="Ruritania")
    s = _then(s, "floor.request", actor, 33, point_of_order=True)
    for n in range(6):
        s = _then(s, "question.ask", ATTENDEE, 34 + n, text=f"Question {n + 1}?", anonymous=n % 2 == 0)
    for qid in (APPROVED, ANSWERED, ARCHIVED, HIGHLIGHTED):
        s = _then(s, "question.approve", minute=41, question_id=qid)
    s = _then(s, "question.answer", minute=42, question_id=ANSWERED)
    s = _then(s, "question.archive", minute=42, question_id=ARCHIVED)
    s = _then(s, "question.dismiss", minute=42, question_id=DISMISSED)
    s = _then(s, "question.highlight", minute=43, question_id=HIGHLIGHTED)
    return s


def between_segments(actor: Actor = ATTENDEE) -> LiveState:
    return _then(busy(actor), "segment.end", minute=110, segment_id=PANEL_ID)


def panel_paused(actor: Actor = ATTENDEE) -> LiveState:
    return _then(busy(actor), "segment.pause", minute=50, segment_id=PANEL_ID)


def speech_paused(actor: Actor = ATTENDEE) -> LiveState:
    return _then(busy(actor), "speech.pause", minute=45)


def queue_closed(actor: Actor = ATTENDEE) -> LiveState:
    return _then(busy(actor), "queue.close", minute=45)


def not_waiting(actor: Actor = ATTENDEE) -> LiveState:
    return busy(BYSTANDER)


def by_category(actor: Actor = ATTENDEE) -> LiveState:
    return _then(busy(actor), "queue.set_order", minute=45, order="category")


def moderation_off(actor: Actor = ATTENDEE) -> LiveState:
    return _then(busy(actor), "qa.set_moderation", minute=45, enabled=False)


# poll ids in ``with_polls``
OPEN_POLL, NAMED_DRAFT, SPARE_DRAFT = 1, 2, 3


def with_polls(actor: Actor = ATTENDEE) -> LiveState:
    """``busy`` with poll 1 open (single choice, anonymous, one ballot tallied), and two drafts:
    poll 2 (multiple choice, named) and poll 3."""
    s = busy(actor)
    s = _then(s, "poll.prepare", minute=44, segment_id=PANEL_ID, question="Renew the mandate?", options=["Yes", "No"])
    s = _then(
        s,
        "poll.prepare",
        minute=44,
        segment_id=PANEL_ID,
        question="Priorities?",
        options=["Data", "Funding", "Return"],
        choice="multiple",
        anonymous=False,
    )
    s = _then(s, "poll.prepare", minute=44, segment_id=CLOSING_ID, question="Venue?", options=["Geneva", "New York"])
    s = _then(s, "poll.open", minute=45, poll_id=OPEN_POLL)
    tally = PollTally(ballots=1, counts={1: 1, 2: 0})
    s, _ = record_poll_tallies(s, {OPEN_POLL: tally}, now=at(46))
    return s


def poll_closed(actor: Actor = ATTENDEE) -> LiveState:
    return _then(with_polls(actor), "poll.close", minute=47, poll_id=OPEN_POLL)


def statements_open(actor: Actor = ATTENDEE) -> LiveState:
    """The panel ended with ``ATTENDEE_2`` and ``actor`` waiting: both may submit a statement."""
    return between_segments(actor)


def statement_pending(actor: Actor = ATTENDEE) -> LiveState:
    """``ATTENDEE_2`` submitted statement 1 for the panel; ``actor`` submitted statement 2."""
    s = _then(
        statements_open(actor), "statement.submit", ATTENDEE_2, 115, segment_id=PANEL_ID, language="en", text="We"
    )
    return _then(s, "statement.submit", actor, 116, segment_id=PANEL_ID, language="fr", text="Nous soutenons.")


@dataclass(frozen=True)
class Case:
    kind: str
    state: Callable[[Actor], LiveState]
    fields: dict[str, Any] = field(default_factory=dict)
    label: str = ""

    @property
    def actor(self) -> Actor:
        """Who sends it in the fold tests: a moderator, or an organiser for organiser-only commands,
        or an attendee for attendee-only ones (ballots)."""
        roles = ALLOWED_ROLES[self.kind]
        return MODERATOR if "moderator" in roles else ORGANISER if "organiser" in roles else ATTENDEE

    @property
    def id(self) -> str:
        return f"{self.kind}{'-' + self.label if self.label else ''}"


CASES: list[Case] = [
    Case("segment.open", between_segments, {"segment_id": CLOSING_ID}),
    Case("segment.pause", busy, {"segment_id": PANEL_ID}),
    Case("segment.resume", panel_paused, {"segment_id": PANEL_ID}),
    Case("segment.end", busy, {"segment_id": PANEL_ID}),
    Case("segment.end", panel_paused, {"segment_id": PANEL_ID}, "paused"),
    Case("floor.grant", busy, {"entry_id": 1}, "entry"),
    Case("floor.grant", busy, {"person_id": SPEAKER_ID, "limit_s": 600}, "person"),
    Case("speech.pause", busy),
    Case("speech.resume", speech_paused),
    Case("speech.end", busy),
    Case("speech.end", speech_paused, label="paused"),
    Case("speech.set_limit", busy, {"seconds": 60}),
    Case("notice.set", busy, {"text": "Coffee at 11"}),
    Case("notice.clear", busy),
    Case("floor.request", not_waiting, {"topic": "Data", "on_behalf_of": "Group of 77"}),
    Case("floor.request", not_waiting, {"point_of_order": True}, "point_of_order"),
    Case("floor.withdraw", busy),
    Case("queue.remove", busy, {"entry_id": 1}),
    Case("queue.reorder", busy, {"entry_ids": [1, 2]}),
    Case("queue.set_order", busy, {"order": "category"}),
    Case("queue.set_order", by_category, {"order": "request"}, "back"),
    Case("queue.close", busy),
    Case("queue.open", queue_closed),
    Case("question.ask", busy, {"text": "What next?", "addressed_to": SPEAKER_ID}),
    Case("question.ask", moderation_off, {"text": "Unmoderated?", "anonymous": True}, "unmoderated"),
    Case("question.vote", busy, {"question_id": APPROVED, "up": True}),
    Case("question.approve", busy, {"question_id": PENDING}),
    Case("question.approve", busy, {"question_id": PENDING, "text": "Edited?"}, "edited"),
    Case("question.edit", busy, {"question_id": PENDING, "text": "Better worded?"}),
    Case("question.dismiss", busy, {"question_id": PENDING}, "pending"),
    Case("question.dismiss", busy, {"question_id": HIGHLIGHTED}, "published"),
    Case("question.highlight", busy, {"question_id": APPROVED}),
    Case("question.highlight", busy, {"question_id": None}, "clear"),
    Case("question.answer", busy, {"question_id": HIGHLIGHTED}),
    Case("question.archive", busy, {"question_id": ANSWERED}),
    Case("question.restore", busy, {"question_id": DISMISSED}, "dismissed"),
    Case("question.restore", busy, {"question_id": ARCHIVED}, "archived"),
    Case("qa.set_moderation", busy, {"enabled": False}),
    Case(
        "poll.prepare",
        busy,
        {"segment_id": PANEL_ID, "question": "Which?", "options": ["A", "B", "C"], "choice": "multiple"},
    ),
    Case("poll.discard", with_polls, {"poll_id": SPARE_DRAFT}),
    Case("poll.open", poll_closed, {"poll_id": NAMED_DRAFT}),
    Case("poll.close", with_polls, {"poll_id": OPEN_POLL}),
    Case("segment.end", with_polls, {"segment_id": PANEL_ID}, "poll_open"),
    Case("poll.publish", with_polls, {"poll_id": OPEN_POLL}, "open"),
    Case("poll.publish", poll_closed, {"poll_id": OPEN_POLL}, "closed"),
    Case("poll.vote", with_polls, {"poll_id": OPEN_POLL, "option_ids": [2]}),
    Case("statement.submit", statements_open, {"segment_id": PANEL_ID, "language": "es", "text": "Apoyamos."}),
    Case("statement.submit", statement_pending, {"segment_id": PANEL_ID, "language": "en", "text": "We"}, "replace"),
    Case("statement.approve", statement_pending, {"statement_id": 1}),
    Case("statement.reject", statement_pending, {"statement_id": 1, "reason": "Off topic"}),
    Case("statements.set_deadline", busy, {"after_s": 7200}, "relative"),
    Case("statements.set_deadline", statements_open, {"until": "2022-03-01T23:00:00Z"}, "absolute"),
]

# commands that, legal, change nothing in the views (the service acts on them)
SILENT = {"question.vote", "poll.vote"}

assert {case.kind for case in CASES} == {type_tag(cls) for cls in STATE_COMMAND_CLASSES}
