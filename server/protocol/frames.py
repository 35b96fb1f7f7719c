"""Server frames: what the server sends on a connection.

``event`` frames carry one event of one channel with its position ``(epoch, seq)``; ``seq`` grows
by one per event of that channel, ``epoch`` changes when the replay history is lost. A client
applies an event only if its seq is exactly one more than the last it applied, else it sends
``resume`` (or reloads a snapshot after a ``resync``).
"""

from __future__ import annotations

from typing import Annotated, Final, Literal, get_args

from pydantic import Field, JsonValue

from server.core.model.events import Event
from server.core.model.state import Forecast, Personal, PublicState, StaffState
from server.protocol.base import (
    PROTOCOL_VERSION,
    Channel,
    Cid,
    Epoch,
    ErrorCode,
    Instant,
    Model,
    Seq,
)
from server.protocol.commands import ChannelPositions


class EventFrame(Model):
    type: Literal["event"] = "event"
    channel: Channel
    epoch: Epoch
    seq: Seq
    event: Event


class ResultFrame(Model):
    """The command ``cid`` succeeded; ``data`` holds what the command created, if anything (e.g.
    ``{"entry_id": 7}`` for ``floor.request``, ``{"question_id": 3}`` for ``question.ask``)."""

    type: Literal["result"] = "result"
    cid: Cid
    data: dict[str, JsonValue] | None = None


class ErrorFrame(Model):
    """The command ``cid`` (null when it could not be read) was refused; nothing changed."""

    type: Literal["error"] = "error"
    cid: Cid | None = None
    code: ErrorCode
    message: str


class SnapshotFrame(Model):
    """The full state for this user, with the channel positions it reflects. ``staff`` and
    ``channels.staff`` are null for attendees."""

    type: Literal["snapshot"] = "snapshot"
    protocol_version: int = PROTOCOL_VERSION
    channels: ChannelPositions
    public: PublicState
    staff: StaffState | None = None
    me: Personal
    forecast: Forecast | None = None
    """Drift, forecast end of the morning and the speaker's time, as of the snapshot."""


class ChannelSeqs(Model):
    public: Seq
    staff: Seq | None = None


class HeartbeatFrame(Model):
    """Sent periodically; a client whose last applied seq is behind ``seqs`` has missed events."""

    type: Literal["heartbeat"] = "heartbeat"
    server_time: Instant
    seqs: ChannelSeqs
    forecast: Forecast | None = None
    """Recomputed at each heartbeat, so drift and over-time stay current between events."""


ResyncReason = Literal["epoch_changed", "history_exhausted", "gap", "slow_consumer"]


class ResyncFrame(Model):
    """The server cannot replay what this client missed: load a fresh snapshot."""

    type: Literal["resync"] = "resync"
    reason: ResyncReason


ServerFrame = Annotated[
    EventFrame | ResultFrame | ErrorFrame | SnapshotFrame | HeartbeatFrame | ResyncFrame,
    Field(discriminator="type"),
]
SERVER_FRAME_CLASSES: Final[tuple[type[Model], ...]] = get_args(get_args(ServerFrame)[0])
