"""The protocol documents say what the code does: docs/protocol.schema.json, docs/asyncapi.yaml and
docs/protocol.md fail here as soon as they drift from server/protocol (run
`python -m server.protocol.export` to rewrite the generated parts)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml

from server.entrypoints.ws import connection, endpoint, runtime
from server.protocol import (
    ALLOWED_ROLES,
    COMMANDS_BY_TYPE,
    ERROR_CODES,
    EVENT_CHANNELS,
    MAX_FRAME_BYTES,
    ROLES,
    SERVER_FRAME_CLASSES,
    ResyncReason,
    encode_frame,
    export,
    export_markdown,
    json_schema,
    parse_command,
    parse_server_frame,
    type_tag,
)
from server.services import live

DOCS = Path(__file__).resolve().parents[1] / "docs"
SCHEMA_REF = f"./{export.SCHEMA_FILE}#/$defs/"
FRAME_TYPES = {type_tag(cls) for cls in SERVER_FRAME_CLASSES}


@pytest.fixture(scope="module")
def markdown() -> str:
    return (DOCS / export.MARKDOWN_FILE).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def prose(markdown: str) -> str:
    """The hand-written part of protocol.md."""
    return markdown.split(export.BEGIN)[0]


@pytest.fixture(scope="module")
def asyncapi() -> dict[str, Any]:
    return yaml.safe_load((DOCS / export.ASYNCAPI_FILE).read_text(encoding="utf-8"))


def table(text: str, header: str) -> list[list[str]]:
    """The body rows of the first Markdown table whose header row starts with ``header``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


def code(cell: str) -> str:
    """The name in a cell like `` `segment.open` `` or ``[`segment.open`](#segmentopen)``."""
    match = re.search(r"`([^`]+)`", cell)
    assert match, cell
    return match.group(1)


# -- the files are what the code writes ---------------------------------------------------------------


def test_the_schema_file_is_the_export() -> None:
    text = (DOCS / export.SCHEMA_FILE).read_text(encoding="utf-8")
    assert text == json.dumps(json_schema(), indent=2, sort_keys=True) + "\n", "run python -m server.protocol.export"


def test_the_asyncapi_file_is_the_export() -> None:
    assert (DOCS / export.ASYNCAPI_FILE).read_text(encoding="utf-8") == export.asyncapi_text(), (
        "run python -m server.protocol.export"
    )


def test_the_reference_part_of_protocol_md_is_generated_from_the_code(markdown: str) -> None:
    assert markdown.count(export.BEGIN) == 1 and markdown.count(export.END) == 1
    assert markdown == export.with_reference(markdown), "run python -m server.protocol.export"


def test_export_check_finds_a_stale_file_and_export_repairs_it(tmp_path: Path) -> None:
    for name in (export.SCHEMA_FILE, export.ASYNCAPI_FILE, export.MARKDOWN_FILE):
        shutil.copy(DOCS / name, tmp_path / name)
    (tmp_path / export.SCHEMA_FILE).write_text("{}\n")
    assert export.main(["--check", "--docs", str(tmp_path)]) == 1
    assert (tmp_path / export.SCHEMA_FILE).read_text() == "{}\n", "--check writes nothing"
    assert export.main(["--docs", str(tmp_path)]) == 0
    assert export.main(["--check", "--docs", str(tmp_path)]) == 0
    assert (tmp_path / export.SCHEMA_FILE).read_text() == export.schema_text()


# -- protocol.md --------------------------------------------------------------------------------------


def test_every_command_and_event_is_in_protocol_md(markdown: str) -> None:
    missing = [t for t in [*COMMANDS_BY_TYPE, *EVENT_CHANNELS] if f"#### `{t}`" not in markdown]
    assert not missing, missing


def test_the_roles_table_of_protocol_md_is_allowed_roles(markdown: str) -> None:
    header = "| command | " + " | ".join(ROLES) + " |"
    documented = {
        code(row[0]): {role for role, cell in zip(ROLES, row[1 : 1 + len(ROLES)], strict=True) if cell == "✓"}
        for row in table(markdown, header)
    }
    assert documented == {kind: set(roles) for kind, roles in ALLOWED_ROLES.items()}


def test_every_error_code_has_its_meaning_in_protocol_md(prose: str) -> None:
    rows = table(prose, "| code | meaning |")
    documented = [code(row[0]) for row in rows if row[0].startswith("`")]
    assert sorted(documented) == sorted(ERROR_CODES)
    assert all(len(row[1]) > 20 for row in rows if row[0].startswith("`")), "every code needs its meaning"


def test_every_resync_reason_is_explained(prose: str) -> None:
    assert sorted(code(row[0]) for row in table(prose, "| reason |")) == sorted(get_args(ResyncReason))


def test_every_close_code_the_server_uses_is_explained(prose: str) -> None:
    used = {
        value
        for module in (endpoint, runtime)
        for name, value in vars(module).items()
        if name.startswith("CLOSE_") and isinstance(value, int)
    }
    used |= {1001, 1009}  # server shutdown (runtime.stop) and oversize frames (uvicorn's ws_max_size)
    rows = table(prose, "| code | sent when |")
    assert {int(row[0]) for row in rows} == used


def test_the_limits_in_protocol_md_are_the_code_s(prose: str) -> None:
    limits = {row[0]: row[1] for row in table(prose, "| what | limit |")}
    assert f"{MAX_FRAME_BYTES // 1024} KiB" in limits["size of a client frame"]
    bucket = connection.Connection.__dataclass_fields__["limiter"].default_factory()
    assert f"{bucket.rate:g} per second" in limits["commands per connection"]
    assert f"bursts of {bucket.burst:g}" in limits["commands per connection"]
    assert str(connection.OUTBOX_LIMIT) in limits["frames waiting to be sent to one client"]
    assert str(live.REPLAY_LIMIT) in limits["events replayed per channel"]
    timing = runtime.Timing()
    assert f"({timing.idle_timeout_s:g} s)" in limits["idle timeout, heartbeat"]
    assert f"({timing.heartbeat_s:g} s)" in limits["idle timeout, heartbeat"]


def test_the_json_examples_are_valid_frames(markdown: str) -> None:
    blocks = re.findall(r"```json\n(.*?)```", markdown, flags=re.DOTALL)
    assert len(blocks) >= 10
    seen = set()
    for block in blocks:
        frame = json.loads(block)
        if frame["type"] in COMMANDS_BY_TYPE:
            parse_command(block)
        else:  # exactly as the server writes it: every field, the right types
            assert json.loads(encode_frame(parse_server_frame(block))) == frame, block
        seen.add(frame["type"])
    assert FRAME_TYPES <= seen, "an example of every server frame"


def test_the_links_inside_protocol_md_lead_to_its_headings(markdown: str) -> None:
    slugs: dict[str, int] = {}
    anchors = set()
    for heading in re.findall(r"^#{1,6} (.+)$", re.sub(r"```.*?```", "", markdown, flags=re.DOTALL), re.M):
        slug = export_markdown._slug(heading)
        anchors.add(f"{slug}-{slugs[slug]}" if slug in slugs else slug)
        slugs[slug] = slugs.get(slug, 0) + 1
    broken = sorted(set(re.findall(r"\]\(#([^)]+)\)", markdown)) - anchors)
    assert not broken, broken


# -- asyncapi.yaml ------------------------------------------------------------------------------------


def test_asyncapi_is_3_0_0_with_one_channel_for_the_live_websocket(asyncapi: dict[str, Any]) -> None:
    assert asyncapi["asyncapi"] == "3.0.0"
    [channel] = asyncapi["channels"].values()
    assert channel["address"] == "/ws/events/{slug}"
    assert set(channel["parameters"]) == {"slug"}
    assert set(channel["bindings"]["ws"]["query"]["properties"]) == {"epoch", "public", "staff", "token"}


def test_asyncapi_has_a_message_for_every_command_event_and_frame(asyncapi: dict[str, Any]) -> None:
    messages = asyncapi["components"]["messages"]
    frames = FRAME_TYPES - {"event"}  # event frames: one message per event
    assert set(messages) == set(COMMANDS_BY_TYPE) | set(EVENT_CHANNELS) | frames
    [channel_key] = asyncapi["channels"]
    assert set(asyncapi["channels"][channel_key]["messages"]) == set(messages)
    operations = asyncapi["operations"]
    assert {name: op["action"] for name, op in operations.items()} == {"send": "send", "receive": "receive"}

    def names(op: dict[str, Any]) -> set[str]:
        return {ref["$ref"].rsplit("/", 1)[-1] for ref in op["messages"]}

    assert names(operations["send"]) == set(COMMANDS_BY_TYPE)
    assert names(operations["receive"]) == set(EVENT_CHANNELS) | frames
    assert names(operations["send"]["reply"]) == {"result", "error"}
    for kind, roles in ALLOWED_ROLES.items():
        assert set(messages[kind]["x-parley-allowed-roles"]) == roles
    for kind, channel in EVENT_CHANNELS.items():
        payload = messages[kind]["payload"]["schema"]
        assert payload["allOf"][0] == {"$ref": SCHEMA_REF + "EventFrame"}
        assert payload["allOf"][1]["properties"]["channel"] == {"const": channel}


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for item in node for r in _refs(item)]
    return []


def test_every_asyncapi_ref_resolves(asyncapi: dict[str, Any]) -> None:
    defs = json.loads((DOCS / export.SCHEMA_FILE).read_text(encoding="utf-8"))["$defs"]
    refs = _refs(asyncapi)
    external = [r for r in refs if not r.startswith("#/")]
    assert external and all(r.startswith(SCHEMA_REF) for r in external), external
    assert not [r for r in external if r.removeprefix(SCHEMA_REF) not in defs]
    for ref in refs:
        if ref.startswith("#/"):
            node: Any = asyncapi
            for part in ref[2:].split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
    messages = asyncapi["components"]["messages"]
    for kind, cls in COMMANDS_BY_TYPE.items():
        assert messages[kind]["payload"]["schema"] == {"$ref": SCHEMA_REF + cls.__name__}
