"""Reading client frames, writing server frames, and the JSON Schema of both."""

from __future__ import annotations

import json
from typing import Any, Final

from pydantic import TypeAdapter, ValidationError

from server.core.model.events import EVENT_CHANNELS
from server.protocol.base import (
    ERROR_CODES,
    PROTOCOL_VERSION,
    Cid,
    Model,
    ProtocolError,
)
from server.protocol.commands import Command
from server.protocol.frames import ServerFrame
from server.protocol.permissions import ALLOWED_ROLES

_COMMAND: Final[TypeAdapter[Command]] = TypeAdapter(Command)
_SERVER_FRAME: Final[TypeAdapter[ServerFrame]] = TypeAdapter(ServerFrame)
_CID: Final[TypeAdapter[str]] = TypeAdapter(Cid)


def parse_command(raw: str | bytes) -> Command:
    """One client frame → its command. Raises ``ProtocolError`` with ``bad_json`` (not JSON or not
    UTF-8), ``unknown_type`` (a ``type`` that is no command) or ``invalid`` (not an object, no
    ``type``, a missing, extra or wrong field, a text too long)."""
    try:
        return _COMMAND.validate_json(raw)
    except ValidationError as exc:
        raise _classify(raw, exc) from None


def _classify(raw: str | bytes, exc: ValidationError) -> ProtocolError:
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    first = errors[0]
    if first["type"] == "json_invalid":
        return ProtocolError("bad_json", str(first["msg"]))
    cid = _readable_cid(raw)
    if first["type"] in {"union_tag_invalid", "model_attributes_type", "model_type"} and not first["loc"]:
        tag = _readable_type(raw)
        if tag is not None:
            return ProtocolError("unknown_type", f"unknown command type {tag!r}", cid=cid)
        if first["type"] != "union_tag_invalid":
            return ProtocolError("invalid", "a frame must be a JSON object", cid=cid)
    if first["type"] == "union_tag_invalid":
        return ProtocolError("invalid", "the field 'type' must be a command type", cid=cid)
    if first["type"] == "union_tag_not_found":
        return ProtocolError("invalid", "the field 'type' is missing", cid=cid)
    details = "; ".join(_describe(error) for error in errors[:3])
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return ProtocolError("invalid", details + more, cid=cid)


def _describe(error: Any) -> str:
    loc = [str(part) for part in error["loc"][1:]]  # the first part is the union tag
    where = ".".join(loc) or "frame"
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown field"
    if error["type"] == "missing":
        return f"{where}: missing field"
    return f"{where}: {error['msg']}"


def _loads(raw: str | bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # only read for a friendlier message: never an error of its own
        return None


def _readable_type(raw: str | bytes) -> str | None:
    data = _loads(raw)
    if isinstance(data, dict) and isinstance(data.get("type"), str):
        return str(data["type"])[:64]
    return None


def _readable_cid(raw: str | bytes) -> str | None:
    data = _loads(raw)
    if not isinstance(data, dict):
        return None
    try:
        return _CID.validate_python(data.get("cid"))
    except ValidationError:
        return None


def encode_frame(frame: Model) -> str:
    """A server frame as the JSON text to send (encode once, send the same text to everyone)."""
    return frame.model_dump_json()


def parse_server_frame(raw: str | bytes) -> ServerFrame:
    """For tests and Python clients: a server frame back from its JSON text."""
    return _SERVER_FRAME.validate_json(raw)


def json_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of every frame: ``ClientFrame`` (validation shape) and
    ``ServerFrame`` (serialisation shape), plus an ``x-parley`` block with the version, the error
    codes, the permission table and the channel of each event."""
    roots, definitions = TypeAdapter.json_schemas(
        [("client", "validation", _COMMAND), ("server", "serialization", _SERVER_FRAME)],
        ref_template="#/$defs/{model}",
    )
    defs: dict[str, Any] = dict(definitions.get("$defs", {}))
    defs["ClientFrame"] = {"description": "A frame the client sends.", **roots[("client", "validation")]}
    defs["ServerFrame"] = {"description": "A frame the server sends.", **roots[("server", "serialization")]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://parley.invalid/protocol/v{PROTOCOL_VERSION}.json",
        "title": f"Parley live protocol, version {PROTOCOL_VERSION}",
        "oneOf": [{"$ref": "#/$defs/ClientFrame"}, {"$ref": "#/$defs/ServerFrame"}],
        "$defs": dict(sorted(defs.items())),
        "x-parley": {
            "protocol_version": PROTOCOL_VERSION,
            "error_codes": list(ERROR_CODES),
            "allowed_roles": {kind: sorted(roles) for kind, roles in ALLOWED_ROLES.items()},
            "event_channels": dict(EVENT_CHANNELS),
        },
    }
