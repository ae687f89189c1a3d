"""The TypeScript declarations (protocol/concord.d.ts) and the JSON Schemas describe the same shapes.

Every interface of the .d.ts that declares a frame (`op: "name"`) must list the properties of that
frame's schema, no more, with the same ones optional; a property typed as a union of string literals
must allow the values the schema's enum or const allows; and the `ErrorCode` union must hold every
code the server sends. Reads the .d.ts with a small brace-matching reader: it knows interfaces,
properties and string literal unions, which is all the declarations of frames use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from test_schemas import CLIENT_OPS, ROOT, SCHEMAS, SERVER_OPS

DTS = (ROOT / "protocol" / "concord.d.ts").read_text(encoding="utf-8")


@dataclass
class Property:
    name: str
    optional: bool
    type: str


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def interfaces() -> dict[str, list[Property]]:
    """Interface name to its own properties (index signatures and methods left out)."""
    text = _strip_comments(DTS)
    found: dict[str, list[Property]] = {}
    for match in re.finditer(r"export interface (\w+)(?:<[^>{]*>)?(?:\s+extends\s+[\w<>, ]+)?\s*\{", text):
        depth, start, i = 1, match.end(), match.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        body = text[start:i - 1]
        members: list[str] = []
        depth, current = 0, ""
        for ch in body:
            if ch in "{<([":
                depth += 1
            elif ch in "}>)]":
                depth -= 1
            if ch in ";\n" and depth == 0:
                if current.strip():
                    members.append(current.strip())
                current = ""
            else:
                current += ch
        if current.strip():
            members.append(current.strip())
        props = []
        for member in members:
            m = re.match(r"(?:readonly\s+)?(\w+)(\?)?\s*:\s*(.+)$", member, flags=re.S)
            if m:
                props.append(Property(m.group(1), bool(m.group(2)), " ".join(m.group(3).split())))
        found[match.group(1)] = props
    return found


INTERFACES = interfaces()


def frame_interfaces() -> list[tuple[str, str]]:
    """(interface, op) for every interface whose `op` is one string literal."""
    out = []
    for name, props in INTERFACES.items():
        op = next((p for p in props if p.name == "op"), None)
        if op and re.fullmatch(r'"[\w.]+"', op.type):
            out.append((name, op.type.strip('"')))
    return out


def schema_shape(name: str, seen: frozenset = frozenset()) -> tuple[dict, set[str]]:
    """The properties and required names of a schema, through `$ref` and `allOf`."""
    schema = SCHEMAS[name]
    properties = dict(schema.get("properties", {}))
    required = set(schema.get("required", []))
    parts = [schema.get("$ref")] + [part.get("$ref") for part in schema.get("allOf", [])]
    for ref in parts:
        if ref and "#" not in ref and ref not in seen:
            more, more_required = schema_shape(ref, seen | {name})
            properties = {**more, **properties}
            required |= more_required
    return properties, required


def literals(ts_type: str) -> set[str] | None:
    """The values of a union of string literals, or None when the type is something else."""
    parts = [p.strip() for p in ts_type.split("|")]
    if parts and all(re.fullmatch(r'"[^"]*"', p) for p in parts):
        return {p.strip('"') for p in parts}
    return None


def schema_values(prop: dict) -> set[str] | None:
    if "const" in prop:
        return {prop["const"]}
    if "enum" in prop:
        return set(prop["enum"])
    return None


FRAMES = frame_interfaces()


def test_the_declarations_declare_frames():
    assert len(FRAMES) >= 10, FRAMES


@pytest.mark.parametrize("interface,op", FRAMES, ids=[f"{i} ({o})" for i, o in FRAMES])
def test_a_frame_interface_has_its_schemas_properties(interface, op):
    schema = SERVER_OPS.get(op) or CLIENT_OPS.get(op)
    assert schema, f"{interface} declares op {op!r}, which no schema describes"
    properties, required = schema_shape(schema)
    declared = {p.name: p for p in INTERFACES[interface]}
    assert set(declared) == set(properties), (
        f"{interface} vs {schema}: only in the .d.ts {sorted(set(declared) - set(properties))}, "
        f"only in the schema {sorted(set(properties) - set(declared))}")
    for name, prop in declared.items():
        assert prop.optional == (name not in required), (
            f"{interface}.{name} is {'optional' if prop.optional else 'required'} in the .d.ts, "
            f"{'required' if name in required else 'optional'} in {schema}")
        values = literals(prop.type)
        allowed = schema_values(properties[name])
        if values is not None and allowed is not None:
            assert values == allowed, f"{interface}.{name}: .d.ts {sorted(values)}, {schema} {sorted(allowed)}"


def test_every_frame_schema_the_client_reads_has_an_interface_or_a_reason():
    declared = {op for _, op in FRAMES}
    # Replies the client reads through ReplyFrame (op, id, and what each reply adds): their shapes
    # are in the schemas, and the client's own results (PublishResult, SubscribedInfo, RecordState,
    # CommitAccepted, ...) are what apps see of them.
    through_reply_frame = {
        "subscribed", "unsubscribed", "published", "pong", "presence.entered", "presence.updated",
        "presence.left", "presence.unsubscribed", "typing.ok", "typing.unsubscribed", "record.state",
        "record.editing", "record.stopped", "record.committed", "record.conflict", "event",
    }
    missing = set(SERVER_OPS) - declared - through_reply_frame
    assert not missing, f"server frames with neither an interface in concord.d.ts nor a reason here: {sorted(missing)}"


def test_the_error_code_union_holds_every_code_the_server_sends():
    union = re.search(r"export type ErrorCode =(.*?);", _strip_comments(DTS), flags=re.S).group(1)
    declared = set(re.findall(r'"(\w+)"', union))
    codes = set(SCHEMAS["error.json"]["$defs"]["code"]["enum"])
    assert not codes - declared, f"codes the server sends that ErrorCode does not name: {sorted(codes - declared)}"
