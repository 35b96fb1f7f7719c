"""The key property: for every command, the events it emits rebuild the new views from the old.

Checked twice: with the event objects, and with what really travels, each event encoded to JSON
and parsed back, folded into views that were themselves sent as JSON (a late joiner's snapshot).
Also: every event goes to its own channel, and nothing staff-only leaks onto the public channel.
"""

from __future__ import annotations

import json

import pytest
from pydantic import TypeAdapter

from server.core import LiveState, apply_public, apply_staff, decide
from server.protocol import Event, PublicState, StaffState
from tests.core.cases import CASES, SILENT, Case
from tests.core.helpers import at, command

EVENT = TypeAdapter(Event)


def _decide(case: Case) -> tuple[LiveState, LiveState, list]:
    old = case.state(case.actor)
    new, emitted = decide(old, command(case.kind, **case.fields), actor=case.actor, now=at(60))
    return old, new, emitted


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_events_fold_into_the_new_views(case: Case) -> None:
    old, new, emitted = _decide(case)
    assert bool(emitted) == (case.kind not in SILENT)
    public, staff = old.public, old.staff
    for channel, event in emitted:
        assert channel == event.channel
        if channel == "public":
            public = apply_public(public, event)
        else:
            staff = apply_staff(staff, event)
    assert public == new.public
    assert staff == new.staff


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_events_fold_the_same_after_a_trip_through_json(case: Case) -> None:
    old, new, emitted = _decide(case)
    public = PublicState.model_validate_json(old.public.model_dump_json())
    staff = StaffState.model_validate_json(old.staff.model_dump_json())
    for channel, event in emitted:
        wire = EVENT.validate_json(EVENT.dump_json(event))
        assert wire == event
        if channel == "public":
            public = apply_public(public, wire)
        else:
            staff = apply_staff(staff, wire)
    assert public.model_dump_json() == new.public.model_dump_json()
    assert staff.model_dump_json() == new.staff.model_dump_json()
    assert LiveState.model_validate_json(new.model_dump_json()) == new


def _keys(value: object) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_public_events_never_carry_staff_only_facts(case: Case) -> None:
    _, new, emitted = _decide(case)
    unpublished_texts = {q.text for q in new.staff.questions}
    for channel, event in emitted:
        if channel != "public":
            continue
        text = event.model_dump_json()
        staff_only = {"by", "asker", "anonymous", "original_text", "named"}
        if event.type.startswith("poll."):
            staff_only.discard("anonymous")  # whether a poll's ballots are named is everyone's to know
        assert not _keys(json.loads(text)) & staff_only
        assert not any(secret in text for secret in unpublished_texts)
        question = getattr(event, "question", None)
        if question is not None and new.staff.provenance[question.id].anonymous:
            assert question.asker_name is None
            assert question.asker_organisation is None
