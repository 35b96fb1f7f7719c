"""An attendee and a staff member with the same number are two people.

Registrations and staff accounts are numbered apart, so attendee 7 and moderator 7 can be in the
same event (they are in the demo data). The state names people by reference (``"attendee:7"``,
``"staff:7"``): each one's queue entry, speech, question and personal view is their own.
"""

from __future__ import annotations

import pytest

from server.core import Actor, CommandRejected, LiveState, personal_view
from server.core.model import parse_person_ref, person_ref
from tests.core.helpers import act, at, live_panel, run

ANA = Actor(user_id=7, role="attendee", display_name="Ana Attendee", organisation="Ruritania", kind="attendee")
MO = Actor(user_id=7, role="moderator", display_name="Mo Derator", kind="staff")


def both_waiting_and_asking() -> LiveState:
    return run(
        live_panel(),
        ("floor.request", ANA, at(31), {"topic": "Funding"}),
        ("floor.request", MO, at(32), {"topic": "Procedure"}),
        ("question.ask", ANA, at(33), {"text": "Ana's question?"}),
        ("question.ask", MO, at(34), {"text": "Mo's question?"}),
    )


def test_the_same_number_is_two_people_in_the_queue_and_the_qa() -> None:
    state = both_waiting_and_asking()
    waiting = state.public.queue.waiting
    assert [(e.who, e.name) for e in waiting] == [("attendee:7", "Ana Attendee"), ("staff:7", "Mo Derator")]
    askers = [(q.text, q.asker.who) for q in state.staff.questions]
    assert askers == [("Ana's question?", "attendee:7"), ("Mo's question?", "staff:7")]

    ana, mo = personal_view(state, ANA), personal_view(state, MO)
    assert (ana.who, ana.waiting_entry_id, [q.text for q in ana.questions]) == ("attendee:7", 1, ["Ana's question?"])
    assert (mo.who, mo.waiting_entry_id, [q.text for q in mo.questions]) == ("staff:7", 2, ["Mo's question?"])


def test_a_withdrawal_and_a_speech_belong_to_the_right_one() -> None:
    state = both_waiting_and_asking()
    state = run(state, ("floor.withdraw", ANA, at(35), {}))
    assert [e.who for e in state.public.queue.waiting] == ["staff:7"]
    with pytest.raises(CommandRejected):
        act(state, "floor.withdraw", ANA, at(36))  # Ana has no entry left; Mo's is not hers
    state, _ = act(state, "floor.grant", MO, at(36), entry_id=2)
    speech = state.public.stage.speech
    assert speech is not None and (speech.who, speech.speaker_name) == ("staff:7", "Mo Derator")


def test_decisions_name_the_staff_member() -> None:
    state = both_waiting_and_asking()
    state, emitted = act(state, "question.approve", MO, at(37), question_id=1)
    assert [e.event.by for e in emitted if e.event.type == "question.approved"] == ["staff:7"]  # type: ignore[union-attr]
    assert state.staff.provenance[1].approved_by == "staff:7"
    assert state.staff.provenance[1].asker.who == "attendee:7"


@pytest.mark.parametrize(
    "ref", ["attendee:0", "staff:01", "user:3", "staff:", "attendee:3 ", "staff:٣", "staff:9007199254740992"]
)
def test_malformed_references_are_refused(ref: str) -> None:
    with pytest.raises(ValueError):
        parse_person_ref(ref)


def test_references_round_trip() -> None:
    assert parse_person_ref(person_ref("staff", 3)) == ("staff", 3)
    assert parse_person_ref("attendee:9007199254740991") == ("attendee", 9007199254740991)
