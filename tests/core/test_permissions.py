"""Every command tried by every role, in a state where it is legal: allowed exactly where it should be."""

from __future__ import annotations

import pytest

from server.core import CommandRejected, decide
from server.protocol import ALLOWED_ROLES, COMMANDS_BY_TYPE, ROLES, is_allowed
from tests.core.cases import CASES, Case
from tests.core.helpers import ACTORS, at, command

ATTENDEE_COMMANDS = {
    "floor.request",
    "floor.withdraw",
    "question.ask",
    "question.vote",
    "statement.submit",
    "ping",
    "resume",
}
ORGANISER_COMMANDS = {"statements.set_deadline"}

ATTENDEE_ONLY_COMMANDS = {"poll.vote"}  # the staff run a poll; they do not vote in it

EXPECTED = {
    kind: {"attendee"}
    if kind in ATTENDEE_ONLY_COMMANDS
    else {"attendee", "moderator", "organiser"}
    if kind in ATTENDEE_COMMANDS
    else {"organiser"}
    if kind in ORGANISER_COMMANDS
    else {"moderator", "organiser"}
    for kind in COMMANDS_BY_TYPE
}


def test_the_permission_table_is_the_expected_one() -> None:
    assert {kind: set(roles) for kind, roles in ALLOWED_ROLES.items()} == EXPECTED
    assert {kind for kind, roles in ALLOWED_ROLES.items() if "attendee" in roles} == (
        ATTENDEE_COMMANDS | ATTENDEE_ONLY_COMMANDS
    )


def test_organisers_can_do_everything_moderators_can() -> None:
    for roles in ALLOWED_ROLES.values():
        assert "moderator" not in roles or "organiser" in roles


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_role_command_matrix(case: Case, role: str) -> None:
    actor = ACTORS[role]
    state = case.state(actor)
    attempt = command(case.kind, **case.fields)
    if role in EXPECTED[case.kind]:
        assert is_allowed(actor.role, case.kind)
        decide(state, attempt, actor=actor, now=at(60))
    else:
        assert not is_allowed(actor.role, case.kind)
        with pytest.raises(CommandRejected) as rejected:
            decide(state, attempt, actor=actor, now=at(60))
        assert rejected.value.code == "forbidden"


def test_unknown_command_types_are_allowed_to_nobody() -> None:
    assert not any(is_allowed(role, "segment.delete") for role in ROLES)
