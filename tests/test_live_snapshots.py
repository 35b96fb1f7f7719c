"""Snapshots spliced from a shared, once-encoded state are the very text ``encode_frame`` gives."""

from __future__ import annotations

import pytest

from server.core.forecast import forecast
from server.core.views import personal_view, views_for
from server.entrypoints.ws.snapshots import SharedState, snapshot_text
from server.protocol import ChannelPosition, ChannelPositions, encode_frame
from server.protocol.frames import SnapshotFrame
from server.services.live import Position
from tests.core.cases import between_segments, busy
from tests.core.helpers import ACTORS, at


@pytest.mark.parametrize("role", ["attendee", "moderator", "organiser"])
@pytest.mark.parametrize("build", [busy, between_segments])
def test_a_spliced_snapshot_is_the_encoded_frame(role: str, build: object) -> None:
    state = build()  # type: ignore[operator]
    actor = ACTORS[role]
    position = Position("e1", 41, 17)
    shared = SharedState(
        state=state,
        position=position,
        public_json=state.public.model_dump_json(),
        staff_json=state.staff.model_dump_json(),
    )
    public, staff = views_for(state, actor.role)
    channels = ChannelPositions(
        public=ChannelPosition(epoch="e1", seq=41),
        staff=ChannelPosition(epoch="e1", seq=17) if staff is not None else None,
    )
    voted = [q.id for q in state.public.questions][:1]
    me = personal_view(state, actor, voted)
    projected = forecast(state, at(45))
    expected = encode_frame(SnapshotFrame(channels=channels, public=public, staff=staff, me=me, forecast=projected))
    spliced = snapshot_text(
        shared,
        staff=staff is not None,
        me_json=me.model_dump_json(),
        forecast_json=projected.model_dump_json() if projected is not None else "null",
        channels=channels,
    )
    assert spliced == expected
