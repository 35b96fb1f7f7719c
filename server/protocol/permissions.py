"""Who may send each client frame: the core's rule for state commands, everyone for control frames."""

from __future__ import annotations

from typing import Final

from server.core.model.base import Role
from server.core.permissions import ALLOWED_ROLES as STATE_ALLOWED_ROLES
from server.core.permissions import EVERYONE
from server.protocol.commands import COMMANDS_BY_TYPE

ALLOWED_ROLES: Final[dict[str, frozenset[Role]]] = {**STATE_ALLOWED_ROLES, "ping": EVERYONE, "resume": EVERYONE}

assert set(ALLOWED_ROLES) == set(COMMANDS_BY_TYPE), "every command needs exactly one permission row"


def is_allowed(role: Role, command_type: str) -> bool:
    return role in ALLOWED_ROLES.get(command_type, frozenset())
