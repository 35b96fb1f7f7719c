"""The wire: parsing client frames into commands (and refusing bad ones with the right code), and
the JSON Schema export, checked against real frames by a small validator for the keywords used."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from server.core import apply_public, record_poll_tallies, record_presence_counts, record_vote_counts
from server.protocol import (
    ALLOWED_ROLES,
    COMMAND_CLASSES,
    ERROR_CODES,
    EVENT_CHANNELS,
    EVENT_CLASSES,
    PROTOCOL_VERSION,
    SERVER_FRAME_CLASSES,
    ChannelPositions,
    ChannelSeqs,
    ErrorFrame,
    EventFrame,
    FloorGrant,
    HeartbeatFrame,
    PollTally,
    ProtocolError,
    QuestionAsk,
    ResultFrame,
    Resume,
    ResyncFrame,
    SnapshotFrame,
    encode_frame,
    json_schema,
    parse_command,
    parse_server_frame,
    type_tag,
)
from tests.core.cases import CASES, busy, with_polls
from tests.core.helpers import ATTENDEE, MODERATOR, act, at

# -- parsing --------------------------------------------------------------------------------------


def frame(**fields: Any) -> str:
    return json.dumps({"cid": "c-1", **fields})


def code_of(raw: str | bytes) -> tuple[str, str | None]:
    with pytest.raises(ProtocolError) as error:
        parse_command(raw)
    assert error.value.code in ERROR_CODES
    return error.value.code, error.value.cid


def test_a_valid_frame_becomes_its_command() -> None:
    command = parse_command(frame(type="question.ask", text="  Why?  ", anonymous=True))
    assert isinstance(command, QuestionAsk)
    assert (command.cid, command.text, command.anonymous, command.addressed_to) == ("c-1", "Why?", True, None)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_every_state_command_parses_from_its_json(case) -> None:
    command = parse_command(frame(type=case.kind, **case.fields))
    assert type_tag(type(command)) == case.kind


def test_control_frames_parse() -> None:
    assert type_tag(type(parse_command(frame(type="ping")))) == "ping"
    resume = parse_command(frame(type="resume", channels={"public": {"epoch": "e1", "seq": 41}}))
    assert isinstance(resume, Resume)
    assert resume.channels == ChannelPositions.model_validate({"public": {"epoch": "e1", "seq": 41}})


@pytest.mark.parametrize("raw", ["{", "not json", b"\xff\xfe{}", "", '{"type": "ping", "cid": "x",}'])
def test_malformed_json_is_bad_json(raw: str | bytes) -> None:
    assert code_of(raw) == ("bad_json", None)


def test_an_unknown_type_is_unknown_type_and_keeps_the_cid() -> None:
    assert code_of(frame(type="segment.delete")) == ("unknown_type", "c-1")


@pytest.mark.parametrize(
    "raw",
    [
        frame(type="question.ask"),  # missing text
        frame(type="question.ask", text="Why?", colour="red"),  # extra field
        frame(type="question.ask", text="x" * 501),  # too long
        frame(type="question.ask", text="   "),  # empty after strip
        frame(type="question.ask", text="bell\x07"),  # control character
        frame(type="notice.set", text="two\nlines"),
        frame(type="floor.request", topic="t" * 121),
        frame(type="question.vote", question_id="1", up=True),  # strings are not numbers on the wire
        frame(type="question.vote", question_id=1, up="yes"),
        frame(type="question.vote", question_id=0, up=True),
        frame(type="speech.set_limit", seconds=5),
        frame(type="floor.grant"),  # neither entry nor person
        frame(type="floor.grant", entry_id=1, person_id=2),  # both
        frame(type="resume", channels={"staff": {"epoch": "e", "seq": 1}}),
        json.dumps({"type": "ping"}),  # no cid
        json.dumps({"type": "ping", "cid": ""}),
        json.dumps({"type": "ping", "cid": "x" * 65}),
        json.dumps({"type": "ping", "cid": "has space"}),
        json.dumps({"cid": "c-1"}),  # no type
        json.dumps({"type": 7, "cid": "c-1"}),
        json.dumps([{"type": "ping", "cid": "c-1"}]),
        json.dumps("ping"),
    ],
)
def test_bad_fields_are_invalid(raw: str) -> None:
    assert code_of(raw)[0] == "invalid"


def test_text_lengths_count_after_stripping_and_500_is_the_limit() -> None:
    assert len(parse_command(frame(type="question.ask", text="x" * 500)).text) == 500
    assert len(parse_command(frame(type="question.ask", text=" " + "x" * 500 + " ")).text) == 500
    assert code_of(frame(type="question.ask", text="x" * 501)) == ("invalid", "c-1")


def test_the_error_message_names_the_field() -> None:
    with pytest.raises(ProtocolError) as error:
        parse_command(frame(type="question.ask", text="Why?", colour="red"))
    assert "colour" in error.value.message
    with pytest.raises(ProtocolError) as error:
        parse_command(frame(type="question.vote", up=True))
    assert "question_id" in error.value.message


def test_floor_grant_needs_exactly_one_target() -> None:
    assert parse_command(frame(type="floor.grant", entry_id=3)) == FloorGrant(cid="c-1", entry_id=3)
    assert parse_command(frame(type="floor.grant", person_id=3, limit_s=60)).limit_s == 60


# -- server frames --------------------------------------------------------------------------------


def sample_server_frames() -> list[Any]:
    """One of each frame, and an event frame for every event class."""
    events = []
    for case in CASES:
        if case.actor.role == "attendee":
            continue  # ballots: attendees only, and silent
        _, emitted = act(case.state(case.actor), case.kind, case.actor, at(60), **case.fields)
        events += emitted
    published, _ = act(with_polls(), "poll.publish", MODERATOR, at(60), poll_id=1)
    events += record_poll_tallies(published, {1: PollTally(ballots=2, counts={1: 1, 2: 1})}, now=at(61))[1]
    state = busy()
    events += record_vote_counts(state, {2: 5}, now=at(61))[1]
    events += record_presence_counts(state, online=40, peak_today=52, by_category={"media": 3}, now=at(61))[1]
    frames: list[Any] = [
        EventFrame(channel=channel, epoch="e1", seq=n, event=event) for n, (channel, event) in enumerate(events, 1)
    ]
    from server.core import personal_view

    frames += [
        ResultFrame(cid="c-1", data={"entry_id": 3}),
        ResultFrame(cid="c-2"),
        ErrorFrame(cid=None, code="bad_json", message="Invalid JSON"),
        SnapshotFrame(
            channels=ChannelPositions.model_validate(
                {"public": {"epoch": "e1", "seq": 9}, "staff": {"epoch": "e1", "seq": 4}}
            ),
            public=state.public,
            staff=state.staff,
            me=personal_view(state, ATTENDEE, voted=[2]),
        ),
        SnapshotFrame(
            channels=ChannelPositions.model_validate({"public": {"epoch": "e1", "seq": 9}}),
            public=published.public,
            me=personal_view(published, ATTENDEE, ballots={1: [2]}),
        ),
        SnapshotFrame(
            channels=ChannelPositions.model_validate({"public": {"epoch": "e1", "seq": 9}}),
            public=state.public,
            me=personal_view(state, ATTENDEE),
        ),
        HeartbeatFrame(server_time=at(62), seqs=ChannelSeqs(public=9)),
        ResyncFrame(reason="history_exhausted"),
    ]
    return frames


def test_every_event_class_is_exercised_by_the_samples() -> None:
    seen = {frame.event.type for frame in sample_server_frames() if isinstance(frame, EventFrame)}
    assert seen == set(EVENT_CHANNELS)


def test_server_frames_survive_encoding() -> None:
    for sent in sample_server_frames():
        assert parse_server_frame(encode_frame(sent)) == sent


def test_a_client_folds_events_received_as_text() -> None:
    state = busy()
    new, emitted = act(state, "floor.grant", MODERATOR, at(60), entry_id=1)
    public = state.public
    for n, (channel, event) in enumerate(emitted, 1):
        received = parse_server_frame(encode_frame(EventFrame(channel=channel, epoch="e", seq=n, event=event)))
        assert isinstance(received, EventFrame)
        public = apply_public(public, received.event)
    assert public == new.public


# -- JSON Schema ----------------------------------------------------------------------------------


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def test_the_schema_is_a_2020_12_document_whose_references_all_resolve() -> None:
    schema = json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert json.loads(json.dumps(schema)) == schema
    assert {"ClientFrame", "ServerFrame"} <= set(schema["$defs"])
    for ref in _refs(schema):
        assert ref.startswith("#/$defs/"), ref
        assert ref.removeprefix("#/$defs/") in schema["$defs"], ref
    for definition in schema["$defs"].values():
        assert isinstance(definition, dict)
        for keyword in ("type", "properties", "required", "oneOf", "anyOf", "items", "additionalProperties"):
            if keyword in definition:
                expected = {
                    "type": (str, list),
                    "properties": dict,
                    "required": list,
                    "oneOf": list,
                    "anyOf": list,
                    "items": dict,
                    "additionalProperties": (bool, dict),
                }[keyword]
                assert isinstance(definition[keyword], expected), keyword


def _consts(schema: dict[str, Any]) -> set[str]:
    return {
        d["properties"]["type"]["const"]
        for d in schema["$defs"].values()
        if "const" in d.get("properties", {}).get("type", {})
    }


def test_the_schema_has_every_command_event_and_frame_type_with_a_required_tag() -> None:
    schema = json_schema()
    types = _consts(schema)
    assert {type_tag(cls) for cls in COMMAND_CLASSES} <= types
    assert {type_tag(cls) for cls in EVENT_CLASSES} <= types
    assert {type_tag(cls) for cls in SERVER_FRAME_CLASSES} <= types
    for definition in schema["$defs"].values():
        if "type" in definition.get("properties", {}):
            assert "type" in definition["required"]
    assert schema["x-parley"]["protocol_version"] == PROTOCOL_VERSION
    assert schema["x-parley"]["allowed_roles"] == {k: sorted(v) for k, v in ALLOWED_ROLES.items()}
    assert schema["x-parley"]["event_channels"] == EVENT_CHANNELS
    assert schema["x-parley"]["error_codes"] == list(ERROR_CODES)


# A validator for the keywords this schema uses: enough to prove that what the server sends and
# what the client may send are what the schema says (the JS client is generated from it).


def _valid(value: Any, schema: dict[str, Any], root: dict[str, Any]) -> bool:  # noqa: C901
    if "$ref" in schema:
        return _valid(value, root["$defs"][schema["$ref"].removeprefix("#/$defs/")], root)
    if "const" in schema and value != schema["const"]:
        return False
    if "enum" in schema and value not in schema["enum"]:
        return False
    if "anyOf" in schema and not any(_valid(value, s, root) for s in schema["anyOf"]):
        return False
    if "oneOf" in schema and sum(_valid(value, s, root) for s in schema["oneOf"]) != 1:
        return False
    kind = schema.get("type")
    checks = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "null": lambda v: v is None,
    }
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not any(checks[k](value) for k in kinds):
            return False
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        if any(name not in value for name in schema.get("required", [])):
            return False
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                if not _valid(item, properties[name], root):
                    return False
            elif extra is False or (isinstance(extra, dict) and not _valid(item, extra, root)):
                return False
    if isinstance(value, list) and "items" in schema:
        if not all(_valid(item, schema["items"], root) for item in value):
            return False
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", len(value)):
            return False
        if "pattern" in schema and not re.search(schema["pattern"], value):
            return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value < schema.get("minimum", value) or value > schema.get("maximum", value):
            return False
    return True


def test_every_server_frame_sent_matches_the_schema() -> None:
    schema = json_schema()
    for sent in sample_server_frames():
        assert _valid(json.loads(encode_frame(sent)), {"$ref": "#/$defs/ServerFrame"}, schema), sent


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_valid_client_frames_match_the_schema(case) -> None:
    schema = json_schema()
    assert _valid(json.loads(frame(type=case.kind, **case.fields)), {"$ref": "#/$defs/ClientFrame"}, schema)


def test_the_schema_refuses_what_the_parser_refuses() -> None:
    schema = json_schema()
    client = {"$ref": "#/$defs/ClientFrame"}
    for bad in [
        {"type": "question.ask", "cid": "c", "text": "Why?", "colour": "red"},
        {"type": "question.ask", "cid": "c"},
        {"type": "question.ask", "cid": "c", "text": "x" * 501},
        {"type": "floor.grant", "cid": "c"},
        {"type": "floor.grant", "cid": "c", "entry_id": 1, "person_id": 2},
        {"type": "nope", "cid": "c"},
        {"cid": "c"},
    ]:
        assert not _valid(bad, client, schema), bad
