"""What in a new protocol schema breaks clients built against an old one.

Both schemas are walked side by side from their two roots: ``ClientFrame`` (what clients send, so
what the server must keep accepting) and ``ServerFrame`` (what the server sends, so what clients
must keep understanding). References are followed by position, not by name, so renaming a Python
class is not a change. A change breaks clients when:

- a client command, a server frame type or an event type (any tagged union member) is removed;
- a property is removed (from what the server sends: clients read it; from what clients send:
  the server would refuse it as unknown);
- a property's type changes: the server now sends a type it did not, or refuses one it accepted;
- an enum value is removed;
- a command (or anything a client sends) gets a new required property.

Adding an optional property, a new command, frame or event type, or a new enum value is not breaking.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Direction = Literal["client", "server"]
"""``client``: a shape clients send (the server reads it); ``server``: a shape the server sends."""


@dataclass
class _Walk:
    old_defs: dict[str, Any]
    new_defs: dict[str, Any]
    breaks: list[str] = field(default_factory=list)
    seen: set[tuple[str, str, Direction]] = field(default_factory=set)

    def resolve(self, node: Any, defs: dict[str, Any]) -> tuple[Any, str | None]:
        name = None
        while isinstance(node, dict) and "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            node = defs[name]
        return node, name

    def compare(self, old: Any, new: Any, where: str, direction: Direction) -> None:
        old, old_name = self.resolve(old, self.old_defs)
        new, new_name = self.resolve(new, self.new_defs)
        if old_name and new_name:
            key = (old_name, new_name, direction)
            if key in self.seen:
                return
            self.seen.add(key)
        if _mapping(old) is not None:
            self.compare_union(old, new, where, direction)
            return
        old_kinds, new_kinds = _alternatives(old, self.old_defs), _alternatives(new, self.new_defs)
        if "any" not in old_kinds and "any" not in new_kinds:
            added, dropped = set(new_kinds) - set(old_kinds), set(old_kinds) - set(new_kinds)
            if (direction == "server" and added) or (direction == "client" and dropped):
                why = (
                    "clients may receive what they do not expect"
                    if direction == "server"
                    else ("the server refuses what clients may send")
                )
                self.breaks.append(f"{where}: type changed from {_show(old_kinds)} to {_show(new_kinds)} ({why})")
        for kind in set(old_kinds) & set(new_kinds):
            self.compare_kind(kind, old_kinds[kind], new_kinds[kind], where, direction)

    def compare_kind(self, kind: str, old: Any, new: Any, where: str, direction: Direction) -> None:
        if kind == "object":
            self.compare_object(old, new, where, direction)
        elif kind == "array":
            self.compare_array(old, new, where, direction)
        elif kind.startswith("enum:"):
            removed = [value for value in _values(old) if value not in _values(new)]
            if removed:
                self.breaks.append(f"{where}: enum value(s) {', '.join(map(repr, removed))} removed")

    def compare_object(self, old: Any, new: Any, where: str, direction: Direction) -> None:
        if _mapping(old) is not None or _mapping(new) is not None:
            self.compare_union(old, new, where, direction)
            return
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        for name, schema in old_props.items():
            if name not in new_props:
                self.breaks.append(f"{where}.{name}: property removed")
            else:
                self.compare(schema, new_props[name], f"{where}.{name}", direction)
        if direction == "client":
            newly_required = set(new.get("required", [])) - set(old.get("required", []))
            for name in sorted(newly_required):
                self.breaks.append(f"{where}.{name}: new required property")
        old_extra, new_extra = old.get("additionalProperties"), new.get("additionalProperties")
        if isinstance(old_extra, dict) and isinstance(new_extra, dict):
            self.compare(old_extra, new_extra, f"{where}[*]", direction)

    def compare_array(self, old: Any, new: Any, where: str, direction: Direction) -> None:
        if "items" in old and "items" in new:
            self.compare(old["items"], new["items"], f"{where}[]", direction)
        for index, (a, b) in enumerate(zip(old.get("prefixItems", []), new.get("prefixItems", []), strict=False)):
            self.compare(a, b, f"{where}[{index}]", direction)

    def compare_union(self, old: Any, new: Any, where: str, direction: Direction) -> None:
        """A union tagged by ``type``: every old tag must still be there, each compared to its new self."""
        old_map, new_map = _mapping(old) or {}, _mapping(new) or {}
        noun = "client command" if direction == "client" else "type"
        for tag, ref in old_map.items():
            if tag not in new_map:
                self.breaks.append(f"{where}: {noun} {tag!r} removed")
            else:
                self.compare({"$ref": ref}, {"$ref": new_map[tag]}, f"{where}<{tag}>", direction)


def _mapping(node: Any) -> dict[str, str] | None:
    if isinstance(node, dict) and isinstance(node.get("discriminator"), dict):
        mapping = node["discriminator"].get("mapping")
        return dict(mapping) if isinstance(mapping, dict) else None
    return None


def _alternatives(node: Any, defs: dict[str, Any]) -> dict[str, Any]:
    """The node's alternatives by kind (``integer``, ``string``, ``null``, ``object``, ``enum:string``,
    ...), ``anyOf``/``oneOf`` flattened and references followed."""
    while isinstance(node, dict) and "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[-1]]
    if not isinstance(node, dict):
        return {"any": node}
    for union in ("anyOf", "oneOf"):
        if union in node and _mapping(node) is None:
            kinds: dict[str, Any] = {}
            for option in node[union]:
                kinds.update(_alternatives(option, defs))
            return kinds
    if _mapping(node) is not None:
        return {"object": node}
    if "enum" in node or "const" in node:  # a one-value Literal is a ``const``: an enum of one
        return {f"enum:{node.get('type', type(_values(node)[0]).__name__)}": node}
    kind = node.get("type")
    if kind is None:
        return {"object": node} if "properties" in node else {"any": node}
    if isinstance(kind, list):
        return {str(k): node for k in kind}
    if kind == "string" and "format" in node:
        return {f"string:{node['format']}": node}
    return {str(kind): node}


def _values(node: dict[str, Any]) -> list[Any]:
    return list(node["enum"]) if "enum" in node else [node["const"]]


def _show(kinds: dict[str, Any]) -> str:
    return " | ".join(sorted(kinds))


def breaking_changes(released: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Every change from ``released`` to ``current`` that breaks a client, as readable lines."""
    walk = _Walk(released.get("$defs", {}), current.get("$defs", {}))
    for root, direction in (("ClientFrame", "client"), ("ServerFrame", "server")):
        walk.compare({"$ref": f"#/$defs/{root}"}, {"$ref": f"#/$defs/{root}"}, root, direction)  # type: ignore[arg-type]
    return walk.breaks
