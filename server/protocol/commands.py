"""Client frames: the core's state commands plus the control frames, and the ``Command`` union.

The state commands (``segment.open``, ``question.ask``, ...) and their rules live in
``server.core.model.commands``. ``ping`` and ``resume`` are control frames: the connection answers
them, they change no state and have no core rules.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import ConfigDict, Field

from server.core.model.base import Epoch, Model, Seq
from server.core.model.commands import (
    STATE_COMMAND_CLASSES,
    BaseCommand,
    StateCommand,
    type_tag,
)


class ChannelPosition(Model):
    model_config = ConfigDict(strict=True)

    epoch: Epoch
    seq: Seq


class ChannelPositions(Model):
    model_config = ConfigDict(strict=True)

    public: ChannelPosition
    staff: ChannelPosition | None = None


class Ping(BaseCommand):
    """Liveness check; answered with a ``result``. No state change."""

    type: Literal["ping"] = "ping"


class Resume(BaseCommand):
    """After a reconnect: the last (epoch, seq) the client applied per channel. The server replays
    the missed events in order, or answers ``resync``. No state change."""

    type: Literal["resume"] = "resume"
    channels: ChannelPositions


ControlCommand = Ping | Resume

Command = Annotated[StateCommand | Ping | Resume, Field(discriminator="type")]
"""Every client frame, as ``parse_command`` returns it."""

CONTROL_COMMAND_CLASSES: Final[tuple[type[BaseCommand], ...]] = (Ping, Resume)
COMMAND_CLASSES: Final[tuple[type[BaseCommand], ...]] = STATE_COMMAND_CLASSES + CONTROL_COMMAND_CLASSES
COMMANDS_BY_TYPE: Final[dict[str, type[BaseCommand]]] = {type_tag(cls): cls for cls in COMMAND_CLASSES}
