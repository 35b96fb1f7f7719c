"""A change to the protocol that breaks clients comes with a protocol version bump.

``tests/data/protocol/v<N>.schema.json`` is the schema of version N as released. The schema the
code exports now is compared with the release of the current ``PROTOCOL_VERSION``: a breaking
change (``tests/protocol_compat.py`` says which) fails here until the version is bumped and the new
schema checked in as the next release. Then the detector itself, on hand-made changes.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from server.protocol import PROTOCOL_VERSION, json_schema
from tests.protocol_compat import breaking_changes

RELEASES = Path(__file__).resolve().parent / "data" / "protocol"


def released(version: int) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((RELEASES / f"v{version}.schema.json").read_text(encoding="utf-8"))
    return schema


def release_versions() -> list[int]:
    return sorted(int(m.group(1)) for p in RELEASES.iterdir() if (m := re.fullmatch(r"v(\d+)\.schema\.json", p.name)))


def test_the_schema_of_the_current_version_is_checked_in() -> None:
    assert (RELEASES / f"v{PROTOCOL_VERSION}.schema.json").is_file(), (
        f"PROTOCOL_VERSION is {PROTOCOL_VERSION} but tests/data/protocol/v{PROTOCOL_VERSION}.schema.json is missing: "
        f"after bumping the version, check in its schema (python -m server.protocol.export, then copy "
        f"docs/protocol.schema.json to tests/data/protocol/v{PROTOCOL_VERSION}.schema.json)"
    )
    assert release_versions()[-1] == PROTOCOL_VERSION, "a released schema is newer than PROTOCOL_VERSION"
    assert released(PROTOCOL_VERSION)["x-parley"]["protocol_version"] == PROTOCOL_VERSION


def test_a_change_that_breaks_clients_bumps_the_protocol_version() -> None:
    breaks = breaking_changes(released(PROTOCOL_VERSION), json_schema())
    assert not breaks, (
        f"the protocol changed in a way that breaks clients of version {PROTOCOL_VERSION}:\n  - "
        + "\n  - ".join(breaks)
        + f"\nEither keep the old shapes, or bump PROTOCOL_VERSION (server/protocol/base.py) to "
        f"{PROTOCOL_VERSION + 1}, run `python -m server.protocol.export` and check in docs/protocol.schema.json as "
        f"tests/data/protocol/v{PROTOCOL_VERSION + 1}.schema.json (see docs/records.md)."
    )


def test_each_released_version_broke_the_one_before() -> None:
    """A version number is only spent on a breaking change."""
    versions = release_versions()
    for before, after in zip(versions, versions[1:], strict=False):
        assert after == before + 1, f"versions are consecutive: v{before} then v{after}"
        assert breaking_changes(released(before), released(after)), f"v{after} breaks nothing of v{before}"


# -- the detector --------------------------------------------------------------------------------------------

Edit = Callable[[dict[str, Any]], None]


def _drop_union_member(defs: dict[str, Any], union: dict[str, Any], tag: str) -> None:
    ref = union["discriminator"]["mapping"].pop(tag)
    union["oneOf"] = [option for option in union["oneOf"] if option["$ref"] != ref]


def remove_command(defs: dict[str, Any]) -> None:
    _drop_union_member(defs, defs["ClientFrame"], "question.vote")


def remove_server_frame(defs: dict[str, Any]) -> None:
    _drop_union_member(defs, defs["ServerFrame"], "heartbeat")


def remove_event_type(defs: dict[str, Any]) -> None:
    _drop_union_member(defs, defs["EventFrame"]["properties"]["event"], "speech.ended")


def remove_event_property(defs: dict[str, Any]) -> None:
    del defs["SpeechEnded"]["properties"]["duration_s"]
    defs["SpeechEnded"]["required"].remove("duration_s")


def remove_nested_state_property(defs: dict[str, Any]) -> None:
    del defs["Speech"]["properties"]["topic"]


def remove_command_property(defs: dict[str, Any]) -> None:
    del defs["QuestionAsk"]["properties"]["anonymous"]


def change_property_type(defs: dict[str, Any]) -> None:
    defs["QueueEntry"]["properties"]["id"] = {"type": "string", "title": "Id"}


def make_sent_property_nullable(defs: dict[str, Any]) -> None:
    """The server may now send null where clients always got a number."""
    prop = defs["SpeechEnded"]["properties"]["duration_s"]
    defs["SpeechEnded"]["properties"]["duration_s"] = {"anyOf": [prop, {"type": "null"}]}


def narrow_accepted_type(defs: dict[str, Any]) -> None:
    """The server no longer accepts null ("no question highlighted") from clients."""
    defs["QuestionHighlight"]["properties"]["question_id"] = {"type": "integer", "minimum": 1}


def remove_enum_value(defs: dict[str, Any]) -> None:
    code = defs["ErrorFrame"]["properties"]["code"]
    code["enum"].remove("rate_limited")


def remove_accepted_enum_value(defs: dict[str, Any]) -> None:
    reason = defs["QueueEntryRemoved"]["properties"]["reason"]
    reason["enum"].remove("withdrawn")


def require_new_command_property(defs: dict[str, Any]) -> None:
    defs["FloorRequest"]["properties"]["language"] = {"type": "string"}
    defs["FloorRequest"]["required"].append("language")


def require_existing_command_property(defs: dict[str, Any]) -> None:
    defs["FloorRequest"]["required"].append("topic")


BREAKING: dict[str, tuple[Edit, str]] = {
    "a client command removed": (remove_command, "ClientFrame: client command 'question.vote' removed"),
    "a server frame type removed": (remove_server_frame, "ServerFrame: type 'heartbeat' removed"),
    "an event type removed": (remove_event_type, "ServerFrame<event>.event: type 'speech.ended' removed"),
    "an event property removed": (
        remove_event_property,
        "ServerFrame<event>.event<speech.ended>.duration_s: property removed",
    ),
    "a state property removed": (remove_nested_state_property, ".topic: property removed"),
    "a command property removed": (remove_command_property, "ClientFrame<question.ask>.anonymous: property removed"),
    "a property's type changed": (change_property_type, "entry.id: type changed from integer to string"),
    "null sent where it never was": (make_sent_property_nullable, ".duration_s: type changed from number to null"),
    "null refused where it was accepted": (narrow_accepted_type, "question_id: type changed from integer | null"),
    "an enum value removed": (remove_enum_value, "ServerFrame<error>.code: enum value(s) 'rate_limited' removed"),
    "an enum value removed from an event": (remove_accepted_enum_value, "enum value(s) 'withdrawn' removed"),
    "a new required command property": (
        require_new_command_property,
        "ClientFrame<floor.request>.language: new required property",
    ),
    "an optional command property made required": (
        require_existing_command_property,
        "ClientFrame<floor.request>.topic: new required property",
    ),
}


def add_optional_event_property(defs: dict[str, Any]) -> None:
    defs["SpeechEnded"]["properties"]["note"] = {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}


def add_optional_command_property(defs: dict[str, Any]) -> None:
    defs["QuestionAsk"]["properties"]["language"] = {"type": "string", "default": "en"}


def add_event_type(defs: dict[str, Any]) -> None:
    defs["SpeechExtended"] = {
        "type": "object",
        "properties": {"type": {"const": "speech.extended", "type": "string"}, "speech_id": {"type": "integer"}},
        "required": ["type", "speech_id"],
    }
    union = defs["EventFrame"]["properties"]["event"]
    union["discriminator"]["mapping"]["speech.extended"] = "#/$defs/SpeechExtended"
    union["oneOf"].append({"$ref": "#/$defs/SpeechExtended"})


def add_command(defs: dict[str, Any]) -> None:
    defs["NoticeRepeat"] = {"type": "object", "properties": {"type": {"const": "notice.repeat", "type": "string"}}}
    defs["ClientFrame"]["discriminator"]["mapping"]["notice.repeat"] = "#/$defs/NoticeRepeat"
    defs["ClientFrame"]["oneOf"].append({"$ref": "#/$defs/NoticeRepeat"})


def add_enum_value(defs: dict[str, Any]) -> None:
    defs["ErrorFrame"]["properties"]["code"]["enum"].append("too_many_questions")


def rename_a_definition(defs: dict[str, Any]) -> None:
    """A Python class renamed: the same shape under another name is no change to clients."""
    defs["SpeakerTurn"] = defs.pop("Speech")
    text = json.dumps(defs).replace('"#/$defs/Speech"', '"#/$defs/SpeakerTurn"')
    defs.clear()
    defs.update(json.loads(text))


def accept_null_in_a_command(defs: dict[str, Any]) -> None:
    prop = defs["SpeechSetLimit"]["properties"]["seconds"]
    defs["SpeechSetLimit"]["properties"]["seconds"] = {"anyOf": [prop, {"type": "null"}], "default": None}
    defs["SpeechSetLimit"]["required"].remove("seconds")


COMPATIBLE: dict[str, Edit] = {
    "an optional event property added": add_optional_event_property,
    "an optional command property added": add_optional_command_property,
    "a new event type": add_event_type,
    "a new command": add_command,
    "a new enum value": add_enum_value,
    "a definition renamed": rename_a_definition,
    "a command accepts null too": accept_null_in_a_command,
}


def edited(edit: Edit) -> dict[str, Any]:
    schema = copy.deepcopy(released(PROTOCOL_VERSION))
    edit(schema["$defs"])
    return schema


@pytest.mark.parametrize("case", list(BREAKING), ids=list(BREAKING))
def test_the_detector_finds_each_kind_of_break(case: str) -> None:
    edit, expected = BREAKING[case]
    breaks = breaking_changes(released(PROTOCOL_VERSION), edited(edit))
    assert any(expected in line for line in breaks), breaks


@pytest.mark.parametrize("case", list(COMPATIBLE), ids=list(COMPATIBLE))
def test_the_detector_lets_compatible_changes_pass(case: str) -> None:
    assert breaking_changes(released(PROTOCOL_VERSION), edited(COMPATIBLE[case])) == []


def test_the_same_schema_breaks_nothing() -> None:
    assert breaking_changes(released(PROTOCOL_VERSION), released(PROTOCOL_VERSION)) == []
