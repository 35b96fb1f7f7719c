"""Builders shared by the core tests: a two-segment programme, actors, commands, a clock."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

from server.core import Actor, Emitted, LiveState, apply_public, apply_staff, decide, new_live_state
from server.protocol import (
    COMMANDS_BY_TYPE,
    BaseCommand,
    Person,
    SegmentInfo,
)

T0 = datetime(2022, 2, 28, 14, 0, tzinfo=UTC)  # 09:00 New York
DAY = date(2022, 2, 28)

ATTENDEE = Actor(user_id=100, role="attendee", display_name="Ana Attendee", organisation="Ruritania", kind="attendee")
ATTENDEE_2 = Actor(user_id=101, role="attendee", display_name="Ben Attendee", kind="attendee")
MODERATOR = Actor(user_id=200, role="moderator", display_name="Mo Derator", kind="staff")
ORGANISER = Actor(user_id=300, role="organiser", display_name="Olga Organiser", kind="staff")
ACTORS = {"attendee": ATTENDEE, "moderator": MODERATOR, "organiser": ORGANISER}

OPENING_ID, PANEL_ID, CLOSING_ID = 1, 2, 3
SPEAKER_ID, PANEL_MODERATOR_ID = 11, 12


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def programme() -> list[SegmentInfo]:
    return [
        SegmentInfo(
            id=OPENING_ID,
            key="d1-opening",
            kind="opening",
            day=DAY,
            title={"en": "Opening", "fr": "Ouverture"},
            starts_at=at(0),
            ends_at=at(30),
            people=(Person(id=10, name="António Vitorino", role="speaker"),),
        ),
        SegmentInfo(
            id=PANEL_ID,
            key="d1-panel-1",
            kind="panel",
            day=DAY,
            title={"en": "Panel 1"},
            starts_at=at(30),
            ends_at=at(105),
            people=(
                Person(id=PANEL_MODERATOR_ID, name="Ugochi Daniels", role="moderator"),
                Person(id=SPEAKER_ID, name="Mariam Yussuf", role="speaker"),
            ),
        ),
        SegmentInfo(
            id=CLOSING_ID,
            key="d1-closing",
            kind="closing",
            day=DAY,
            title={"en": "Closing"},
            starts_at=at(165),
            ends_at=at(180),
        ),
    ]


def fresh(*, qa_moderation: bool = True) -> LiveState:
    return new_live_state(programme(), qa_moderation=qa_moderation)


_cids = itertools.count(1)


def command(kind: str, **fields: Any) -> Any:
    """A command of type ``kind`` with a fresh cid, validated like the wire would."""
    cls: type[BaseCommand] = COMMANDS_BY_TYPE[kind]
    return cls.model_validate({"type": kind, "cid": f"c{next(_cids)}", **fields}, strict=False)


def act(
    state: LiveState, kind: str, actor: Actor = MODERATOR, now: datetime | None = None, **fields: Any
) -> tuple[LiveState, list[Emitted]]:
    return decide(state, command(kind, **fields), actor=actor, now=now or at(1))


def run(state: LiveState, *steps: tuple[Any, ...]) -> LiveState:
    """Apply ``(kind, actor, now, fields)`` steps, asserting the views stay consistent."""
    for kind, actor, now, fields in steps:
        new, emitted = act(state, kind, actor, now, **fields)
        assert_folds(state, new, emitted)
        state = new
    return state


def assert_folds(old: LiveState, new: LiveState, emitted: list[Emitted]) -> None:
    public, staff = old.public, old.staff
    for channel, event in emitted:
        assert channel == event.channel
        if channel == "public":
            public = apply_public(public, event)
        else:
            staff = apply_staff(staff, event)
    assert public == new.public
    assert staff == new.staff


def types(emitted: list[Emitted]) -> list[tuple[str, str]]:
    return [(channel, event.type) for channel, event in emitted]


def live_panel(now: datetime | None = None) -> LiveState:
    """The panel is live (opened at its scheduled start), nothing else happened."""
    state, _ = act(fresh(), "segment.open", now=now or at(30), segment_id=PANEL_ID)
    return state
