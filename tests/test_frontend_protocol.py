"""``frontend/js/protocol.js`` knows exactly the protocol the server exports.

The JS module carries its knowledge as one JSON block (``SPEC``); here it is read as JSON and
compared, both ways, with ``server.protocol.json_schema()``: command types with their fields, the
required ones and who may send them; event types with their channel and fields; server frame
types; error codes; resync reasons; the protocol version.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from server.protocol import json_schema

PROTOCOL_JS = Path(__file__).resolve().parents[1] / "frontend" / "js" / "protocol.js"


def js_spec() -> dict[str, Any]:
    text = PROTOCOL_JS.read_text()
    match = re.search(r"// BEGIN SPEC\nexport const SPEC = Object\.freeze\(\n(.*)\n\);\n// END SPEC", text, re.S)
    assert match, "protocol.js must keep its SPEC block between the BEGIN SPEC and END SPEC markers"
    return json.loads(match.group(1))


def ref(item: dict[str, Any]) -> str:
    return item["$ref"].rsplit("/", 1)[1]


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return json_schema()


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return js_spec()


def test_the_protocol_version_is_the_servers(spec: dict[str, Any], schema: dict[str, Any]) -> None:
    assert spec["protocol_version"] == schema["x-parley"]["protocol_version"]


def test_every_command_and_its_fields_and_roles_match(spec: dict[str, Any], schema: dict[str, Any]) -> None:
    defs = schema["$defs"]
    server: dict[str, Any] = {}
    for item in defs["ClientFrame"]["oneOf"]:
        definition = defs[ref(item)]
        kind = definition["properties"]["type"]["const"]
        server[kind] = {
            "fields": sorted(k for k in definition["properties"] if k not in ("type", "cid")),
            "required": sorted(k for k in definition.get("required", []) if k not in ("type", "cid")),
            "roles": sorted(schema["x-parley"]["allowed_roles"][kind]),
        }
    js = {
        kind: {"fields": sorted(c["fields"]), "required": sorted(c["required"]), "roles": sorted(c["roles"])}
        for kind, c in spec["commands"].items()
    }
    assert sorted(js) == sorted(server), "command types differ"
    for kind in server:
        assert js[kind] == server[kind], kind


def test_every_event_and_its_channel_and_fields_match(spec: dict[str, Any], schema: dict[str, Any]) -> None:
    defs = schema["$defs"]
    mapping = defs["EventFrame"]["properties"]["event"]["discriminator"]["mapping"]
    server = {
        kind: {
            "channel": schema["x-parley"]["event_channels"][kind],
            "fields": sorted(k for k in defs[target.rsplit("/", 1)[1]]["properties"] if k != "type"),
        }
        for kind, target in mapping.items()
    }
    js = {kind: {"channel": e["channel"], "fields": sorted(e["fields"])} for kind, e in spec["events"].items()}
    assert sorted(js) == sorted(server), "event types differ"
    for kind in server:
        assert js[kind] == server[kind], kind


def test_server_frames_error_codes_and_resync_reasons_match(spec: dict[str, Any], schema: dict[str, Any]) -> None:
    defs = schema["$defs"]
    assert sorted(spec["server_frames"]) == sorted(defs["ServerFrame"]["discriminator"]["mapping"])
    assert sorted(spec["error_codes"]) == sorted(schema["x-parley"]["error_codes"])
    assert sorted(spec["resync_reasons"]) == sorted(defs["ResyncFrame"]["properties"]["reason"]["enum"])


def test_the_javascript_handles_every_server_frame_and_applies_every_event() -> None:
    """connection.js dispatches each frame type; store.js has a case for each event type."""
    spec = js_spec()
    connection = (PROTOCOL_JS.parent / "connection.js").read_text()
    store = (PROTOCOL_JS.parent / "store.js").read_text()
    for frame in spec["server_frames"]:
        assert f'case "{frame}":' in connection, f"connection.js does not handle {frame} frames"
    for kind in spec["events"]:
        assert f'"{kind}"' in store, f"store.js does not apply {kind}"
