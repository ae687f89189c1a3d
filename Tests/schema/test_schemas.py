"""Checks the JSON Schemas of protocol v1 (protocol/schema/) against the metaschema, against every
example in protocol/README.md, and against a table of frames they must accept or reject.

Run from the repository root:  python3 -m pytest -q Tests/schema
Needs only the packages in Tests/schema/requirements.txt; nothing is fetched from the network (the
schemas' relative $refs resolve through a local referencing.Registry).
"""

from __future__ import annotations

import copy
import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = ROOT / "protocol" / "schema"
README = ROOT / "protocol" / "README.md"
BASE_URI = "https://concord.dev/protocol/v1/schema/"
METASCHEMA = "https://json-schema.org/draft/2020-12/schema"

CLIENT_OPS = {
    "subscribe": "subscribe.json",
    "unsubscribe": "unsubscribe.json",
    "publish": "publish.json",
    "ping": "ping.json",
    "auth": "auth.json",
    "presence.enter": "presence.enter.json",
    "presence.update": "presence.update.json",
    "presence.leave": "presence.leave.json",
    "presence.subscribe": "presence.subscribe.json",
    "presence.unsubscribe": "presence.unsubscribe.json",
    "typing.start": "typing.start.json",
    "typing.stop": "typing.stop.json",
    "typing.subscribe": "typing.subscribe.json",
    "typing.unsubscribe": "typing.unsubscribe.json",
    "record.get": "record.get.json",
    "record.edit": "record.edit.json",
    "record.stop": "record.stop.json",
    "record.commit": "record.commit.json",
    "record.delete": "record.delete.json",
}
SERVER_OPS = {
    "welcome": "welcome.json",
    "subscribed": "subscribed.json",
    "unsubscribed": "unsubscribed.json",
    "published": "published.json",
    "pong": "pong.json",
    "token.expiring": "token.expiring.json",
    "reconnect": "reconnect.json",
    "authed": "authed.json",
    "event": "event.json",
    "error": "error.json",
    "presence.entered": "presence.entered.json",
    "presence.updated": "presence.updated.json",
    "presence.left": "presence.left.json",
    "presence.snapshot": "presence.snapshot.json",
    "presence.unsubscribed": "presence.unsubscribed.json",
    "presence.event": "presence.event.json",
    "typing.ok": "typing.ok.json",
    "typing.snapshot": "typing.snapshot.json",
    "typing.unsubscribed": "typing.unsubscribed.json",
    "typing.event": "typing.event.json",
    "record.state": "record.state.json",
    "record.editing": "record.editing.json",
    "record.stopped": "record.stopped.json",
    "record.committed": "record.committed.json",
    "record.conflict": "record.conflict.json",
    "record.stale": "record.stale.json",
}
# HTTP bodies, by endpoint: "METHOD /path", where {name} in the path stands for the rest of the path
# (slashes included) and a "?name=value" query, when given, must be in the request (see endpoint_schema).
REQUEST_SCHEMAS = {
    "POST /v1/publish": "publish-request.json",
    "POST /v1/presence/{channel}": "presence-post-request.json",
    "POST /v1/records/commit": "record-commit-request.json",
    "POST /v1/records/delete": "record-delete-request.json",
}
# Bodies of 200 responses.
RESPONSE_SCHEMAS = {
    "GET /healthz": "healthz-response.json",
    "GET /readyz": "readyz-response.json",
    "POST /v1/publish": "publish-response.json",
    "GET /v1/history": "history-response.json",
    "GET /v1/presence/{channel}": "presence-list-response.json",
    "GET /v1/presence/{channel}?count=1": "presence-count-response.json",
    "POST /v1/presence/{channel}": "presence-post-response.json",
    "DELETE /v1/presence/{channel}": "presence-delete-response.json",
    "GET /v1/records": "record-state-response.json",
    "POST /v1/records/commit": "record-commit-response.json",
    "POST /v1/records/delete": "record-commit-response.json",
}
# Bodies of other statuses that are not the error body, by status, then endpoint as above.
STATUS_RESPONSE_SCHEMAS = {
    409: {
        "POST /v1/records/commit": "record-conflict-response.json",
        "POST /v1/records/delete": "record-conflict-response.json",
    },
    # Not ready says why in the readiness body, not in an error body.
    503: {"GET /readyz": "readyz-response.json"},
}
# Documents that are neither frames nor HTTP bodies: the claims of a connection token (a JWT's payload).
TOKEN_SCHEMAS = {"token-claims.json"}
# Shapes nested in frames and bodies, never sent alone.
SHARED_SHAPES = {
    "presence-member.json", "typist.json", "stream-position.json",
    "version-vector.json", "dot.json", "field-change.json", "commit-fields.json",
}

EXPECTED_SCHEMAS = (
    {"common.json", "live-event.json", "client-frame.json", "server-frame.json"}
    | set(CLIENT_OPS.values())
    | set(SERVER_OPS.values())
    | set(REQUEST_SCHEMAS.values())
    | set(RESPONSE_SCHEMAS.values())
    | {name for table in STATUS_RESPONSE_SCHEMAS.values() for name in table.values()}
    | {"error-response.json"}
    | TOKEN_SCHEMAS
    | SHARED_SHAPES
)
# Schemas that describe no standalone document (definitions) or only unions of other schemas.
NOT_EXAMPLES = {"common.json", "client-frame.json", "server-frame.json"} | SHARED_SHAPES
# Schemas the README has no concrete example of; keep this list empty when possible.
NO_README_EXAMPLE = {
    "typing.ok.json": "the README gives only the template {\"op\": \"typing.ok\", \"id\": ...}",
    "record-delete-request.json": "the README gives only the keys {\"channel\", \"record\", \"version\", \"actor\"}",
}

# JSON-looking snippets in the README that are not examples, each with the reason. Matched exactly
# (after stripping). Anything else that looks like JSON must be classified and must validate.
SKIP = {
    '{"events": [...]}': "prose template of the batch body; [...] stands for LiveEvents",
    '{"error": {"code": CODE, "message": SENTENCE}}': "prose template of the HTTP error body; CODE and SENTENCE are placeholders",
    "{}": (
        "in Concepts, the payload the server stores when it is missing (covered by live-event.json's payload); "
        "in HTTP API, the body of the unauthorized example, which the server rejects before reading it; "
        "in record.get, the empty version of a record never written (covered by the VALID table of version-vector.json)"
    ),
    '{"user": "alice", "info": {...}, "connections": 2}': "prose template of a presence member; {...} stands for the info",
    '{"user", "name", "scope"}': "the keys of a typist, not a document",
    '{"op": "typing.ok", "id": ...}': "prose template of typing.ok; ... stands for the command's id",
    '{"actor", "at"}': "the keys of deletedBy (record.state, record.conflict), not a document",
    '{"channel", "record", "version", "actor"}': "the keys of the POST /v1/records/delete body, not a document",
}


# --------------------------------------------------------------------------------------------------
# Schemas and registry


def _load_schemas() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(SCHEMA_DIR.glob("*.json"))}


SCHEMAS = _load_schemas()
REGISTRY = Registry().with_resources(
    (schema.get("$id", BASE_URI + name), DRAFT202012.create_resource(schema)) for name, schema in SCHEMAS.items()
)


def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(SCHEMAS[name], registry=REGISTRY)


def errors(name: str, instance: Any) -> list[str]:
    found = sorted(validator(name).iter_errors(instance), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in found]


def walk(node: Any, path: tuple = ()):
    """Yields (path, mapping) for every JSON object inside a schema document."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from walk(value, path + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, path + (i,))


def pointer(document: Any, *path: Any) -> Any:
    for part in path:
        document = document[part]
    return document


# --------------------------------------------------------------------------------------------------
# (a) the schemas themselves


def test_every_expected_schema_exists():
    missing = EXPECTED_SCHEMAS - SCHEMAS.keys()
    assert not missing, f"missing schema files in protocol/schema/: {sorted(missing)}"


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_schema_is_valid_against_the_2020_12_metaschema(name):
    schema = SCHEMAS[name]
    assert schema.get("$schema") == METASCHEMA
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_schema_id_title_and_description(name):
    schema = SCHEMAS[name]
    assert schema.get("$id") == BASE_URI + name
    assert schema.get("title"), "every schema needs a title"
    assert schema.get("description"), "every schema needs a description"


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_ref_resolves_offline(name):
    schema = SCHEMAS[name]
    resolver = REGISTRY.resolver(base_uri=schema["$id"])
    refs = [(path, node["$ref"]) for path, node in walk(schema) if isinstance(node.get("$ref"), str)]
    for path, ref in refs:
        assert not ref.startswith(("http:", "https:")), f"{path}: use a relative $ref, not {ref}"
        resolver.lookup(ref)  # raises referencing.exceptions.Unresolvable


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_known_field_is_described(name):
    undescribed = [
        "/".join(map(str, path + (key,)))
        for path, node in walk(SCHEMAS[name])
        if isinstance(node.get("properties"), dict) and path[-1:] != ("properties",)
        for key, sub in node["properties"].items()
        if not (isinstance(sub, dict) and sub.get("description"))
    ]
    assert not undescribed, f"fields without a description: {undescribed}"


def test_frames_allow_unknown_fields():
    # README: "Within v1 new ops and new fields may be added; clients ignore fields ... they do not know",
    # and the server ignores unknown fields of commands. No frame schema may close its properties.
    for name in set(CLIENT_OPS.values()) | set(SERVER_OPS.values()) | {"live-event.json"} | SHARED_SHAPES:
        for path, node in walk(SCHEMAS[name]):
            assert node.get("additionalProperties", True) is not False, f"{name} {path}"
            assert node.get("unevaluatedProperties", True) is not False, f"{name} {path}"


def test_frame_unions_cover_every_op():
    assert set(pointer(SCHEMAS["client-frame.json"], "properties", "op", "enum")) == set(CLIENT_OPS)
    assert set(pointer(SCHEMAS["server-frame.json"], "properties", "op", "enum")) == set(SERVER_OPS)
    assert [b["$ref"] for b in SCHEMAS["client-frame.json"]["oneOf"]] == list(CLIENT_OPS.values())
    assert [b["$ref"] for b in SCHEMAS["server-frame.json"]["oneOf"]] == list(SERVER_OPS.values())
    for op, name in {**CLIENT_OPS, **SERVER_OPS}.items():
        assert pointer(SCHEMAS[name], "properties", "op", "const") == op


# --------------------------------------------------------------------------------------------------
# README tables


README_TEXT = README.read_text(encoding="utf-8")


def readme_section(heading: str) -> str:
    match = re.search(rf"^(#+) {re.escape(heading)}\s*$", README_TEXT, re.M)
    assert match, f"README has no section {heading!r}"
    level = len(match.group(1))
    end = re.search(rf"^#{{1,{level}}} ", README_TEXT[match.end():], re.M)
    return README_TEXT[match.end(): match.end() + end.start() if end else len(README_TEXT)]


def table_rows(section: str) -> list[list[str]]:
    rows = []
    for line in section.splitlines():
        if line.startswith("|") and not re.match(r"^\|[-\s|:]+\|$", line):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows[1:]  # without the header row


def test_error_code_enum_is_the_readme_error_table():
    table = [row[0].strip("`") for row in table_rows(readme_section("Error codes"))]
    assert table, "no rows found in the README's error table"
    assert SCHEMAS["error.json"]["$defs"]["code"]["enum"] == table


def test_error_codes_named_elsewhere_in_the_readme_are_in_the_table():
    codes = set(SCHEMAS["error.json"]["$defs"]["code"]["enum"])
    sections = (
        "subscribe", "unsubscribe", "publish", "POST /v1/publish",
        "presence.enter", "presence.update", "presence.leave", "presence.subscribe", "presence.unsubscribe",
        "typing.start", "typing.subscribe", "typing.unsubscribe", "POST /v1/presence/{channel}",
        "record.edit", "record.stop", "record.commit",
        "GET /v1/records?channel={channel}&id={id}", "POST /v1/records/commit",
    )
    for section in sections:
        text = readme_section(section)
        assert "Errors:" in text, f"README section {section!r} lists no errors"
        # Without asides in parentheses, such as "`invalid_frame` (no `id`)".
        named = set(re.findall(r"`([a-z_]+)`", re.sub(r"\([^()]*\)", "", text[text.index("Errors:"):])))
        assert named and named <= codes, f"{section}: {sorted(named - codes)} are not in the error table"


def _limit_cell(name: str) -> str:
    for row in table_rows(readme_section("Limits")):
        if row[0] == name:
            return row[1]
    raise AssertionError(f"README's Limits table has no row {name!r}")


def _limit(name: str) -> int:
    return int(re.sub(r"[^0-9]", "", _limit_cell(name)))


def _numbers(text: str) -> list[int]:
    return [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", text)]


def test_command_schemas_name_the_readme_errors():
    codes = SCHEMAS["error.json"]["$defs"]["code"]["enum"]
    same_as = {
        "typing.stop": "typing.start",  # README: "Same replies as `typing.start`."
        "record.delete": "record.commit",  # README: "Answered like a whole-record commit".
    }
    for op, name in CLIENT_OPS.items():
        text = readme_section(same_as.get(op, op))
        named = set(re.findall(r"`([a-z_]+)`", text[text.index("Errors:"):])) if "Errors:" in text else set()
        description = SCHEMAS[name]["description"]
        listed = description[description.index("Errors:"):] if "Errors:" in description else ""
        in_schema = {code for code in codes if re.search(rf"\b{code}\b", listed)}
        assert in_schema == named & set(codes), f"{name}: description names {sorted(in_schema)}, README {sorted(named)}"


def _endpoint_heading(endpoint: str) -> str | None:
    """The README heading of an endpoint "METHOD /path" (the heading may add a query template)."""
    for match in re.finditer(r"^#+ (.*)$", README_TEXT, re.M):
        named = _heading_endpoint(match.group(1).strip())
        if named and named.split("?", 1)[0] == endpoint:
            return match.group(1).strip()
    return None


def test_http_schemas_name_the_readme_errors():
    codes = SCHEMAS["error.json"]["$defs"]["code"]["enum"]
    checked = 0
    for endpoint, name in {**RESPONSE_SCHEMAS, **REQUEST_SCHEMAS}.items():
        description = SCHEMAS[name]["description"]
        if "Errors:" not in description:
            continue
        heading = _endpoint_heading(endpoint)
        assert heading, f"{name}: the README has no heading for {endpoint}"
        text = readme_section(heading)
        assert "Errors:" in text, f"{name} lists errors, the README's {heading!r} does not"
        named = set(re.findall(r"`([a-z_]+)`", text[text.index("Errors:"):])) & set(codes)
        listed = description[description.index("Errors:"):]
        in_schema = {code for code in codes if re.search(rf"\b{code}\b", listed)}
        assert in_schema == named, f"{name}: description names {sorted(in_schema)}, README {sorted(named)}"
        checked += 1
    assert checked >= 3


def test_limits_match_the_readme_limits_table():
    subscribe = SCHEMAS["subscribe.json"]["properties"]
    assert subscribe["params"]["properties"]["ids"]["maxItems"] == _limit("ids per subscription")
    assert subscribe["types"]["maxItems"] == _limit("types per subscription")
    request = SCHEMAS["publish-request.json"]["oneOf"]
    assert request[1]["maxItems"] == _limit("events per publish request")
    assert request[2]["properties"]["events"]["maxItems"] == _limit("events per publish request")

    # Presence info: the schema cannot measure serialised bytes, so the limit lives in the description.
    info_bytes = _limit("presence info")
    assert f"{info_bytes:,} bytes" in SCHEMAS["presence-member.json"]["$defs"]["info"]["description"]
    for name in ("presence.enter.json", "presence.update.json", "presence-post-request.json"):
        assert f"{info_bytes:,} bytes" in SCHEMAS[name]["properties"]["info"]["description"], name

    # Presence members: a default the server's flag changes, so no maxItems; the default is described.
    members = _limit("presence members in a snapshot")
    for name in ("presence.snapshot.json", "presence-list-response.json"):
        node = SCHEMAS[name]["properties"]["members"]
        assert "maxItems" not in node and f"{members} by default" in node["description"], name

    # Backend presence TTL: "30,000 ms default, 86,400,000 max".
    default, maximum = _numbers(_limit_cell("backend presence TTL"))
    ttl = SCHEMAS["presence-post-request.json"]["properties"]["ttlMs"]
    assert (ttl["default"], ttl["minimum"], ttl["maximum"]) == (default, 1, maximum)
    assert SCHEMAS["presence-post-response.json"]["properties"]["ttlMs"]["maximum"] == maximum

    # Typing scope: "scope longer than 64 bytes" (typing.start; not in the Limits table).
    scope_bytes = int(re.search(r"scope longer than (\d+) bytes", readme_section("typing.start")).group(1))
    assert SCHEMAS["typist.json"]["$defs"]["scope"]["maxLength"] == scope_bytes
    assert f"{_limit('typing TTL'):,} ms" in SCHEMAS["typing.start.json"]["description"]

    # Commits: "100, names of at most 100 bytes" fields; values measured once serialised (described).
    fields, name_bytes = _numbers(_limit_cell("fields per commit"))
    values, names = SCHEMAS["commit-fields.json"]["oneOf"]
    assert (values["minProperties"], values["maxProperties"]) == (1, fields)
    assert (names["minItems"], names["maxItems"]) == (1, fields)
    assert SCHEMAS["field-change.json"]["$defs"]["field"]["maxLength"] == name_bytes
    value_bytes = _limit("values per commit")
    for description in (SCHEMAS["commit-fields.json"]["description"],
                        SCHEMAS["record.commit.json"]["properties"]["fields"]["description"]):
        assert f"{value_bytes:,} bytes" in description

    # Actors per record vector: a default the server's flag changes, so no maxProperties.
    actors = _limit("actors per record vector")
    assert "maxProperties" not in SCHEMAS["version-vector.json"]
    assert f"at most {actors} actors by default" in SCHEMAS["version-vector.json"]["description"]

    # Development-mode user ids (Connecting): "1 to 200 bytes, not starting with `~`".
    low, high = map(int, re.search(r"`\?user=ID`\s+names the user \((\d+) to (\d+) bytes, not starting with `~`",
                                   README_TEXT).groups())
    user = SCHEMAS["common.json"]["$defs"]["user"]
    assert (user["minLength"], user["maxLength"], user["pattern"]) == (low, high, "^[^~]")


# --------------------------------------------------------------------------------------------------
# (b) every example in the README


@dataclass
class Example:
    line: int  # 1-based line in README.md
    source: str  # "json block", "curl request", "curl response", "response body", "code block line", "inline"
    text: str
    heading: str
    endpoint: str | None = None  # "METHOD /path?query": of the curl command, or of the heading for inline examples
    status: int | None = None  # of a "response body": the HTTP status the paragraph before its block names
    before: str = ""  # of an "inline" example: the text before it on its line
    value: Any = None
    parse_error: str | None = None

    @property
    def label(self) -> str:
        return f"L{self.line}-{self.source.replace(' ', '_')}"


def _parse(example: Example) -> Example:
    try:
        example.value = json.loads(example.text)
    except json.JSONDecodeError as error:
        example.parse_error = str(error)
    return example


def _curl(command: str) -> tuple[str, str | None]:
    """Returns ("METHOD /path?query", body) of a `$ curl ...` command line."""
    args = shlex.split(command)
    method, body, url = None, None, None
    i = 1
    while i < len(args):
        arg = args[i]
        if arg in ("-X", "--request"):
            method, i = args[i + 1], i + 2
            continue
        if arg in ("-d", "--data", "--data-raw", "--data-binary"):
            body, i = args[i + 1], i + 2
            continue
        if arg in ("-H", "--header", "-o", "-u"):
            i += 2
            continue
        if not arg.startswith("-"):
            url = arg
        i += 1
    assert url, f"no URL in {command!r}"
    method = method or ("POST" if body is not None else "GET")
    parts = urlsplit(url)
    return f"{method} {parts.path}" + (f"?{parts.query}" if parts.query else ""), body


def readme_examples() -> list[Example]:
    """Every JSON document in the README: ```json blocks, bodies in curl blocks, bodies in plain blocks
    that follow a paragraph naming an HTTP status, and inline `{...}`."""
    lines = README_TEXT.splitlines()
    found: list[Example] = []
    heading = ""
    paragraph: list[str] = []  # the paragraph before the current line, across blank lines
    fresh = False  # whether a blank line ended that paragraph
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = re.match(r"^\s*```\s*(\S*)", line)
        if fence:
            status = re.search(r"`([1-5][0-9][0-9])`", " ".join(paragraph))
            paragraph, fresh = [], False
            lang, start = fence.group(1).lower(), i
            i += 1
            body = []
            while i < len(lines) and not re.match(r"^\s*```\s*$", lines[i]):
                body.append(lines[i])
                i += 1
            assert i < len(lines), f"README line {start + 1}: unterminated code block"
            i += 1
            if lang == "json":
                found.append(_parse(Example(start + 2, "json block", "\n".join(body).strip(), heading)))
            else:
                found.extend(_examples_in_plain_block(body, start + 2, heading, int(status.group(1)) if status else None))
            continue
        heading_match = re.match(r"^#+\s+(.*)$", line)
        if heading_match:
            heading = heading_match.group(1).strip()
            paragraph, fresh = [], False
        elif not line.strip():
            fresh = True
        else:
            paragraph, fresh = ([] if fresh else paragraph) + [line], False
        for span in re.finditer(r"`([^`]+)`", line):
            if span.group(1).strip().startswith("{"):
                found.append(_parse(Example(i + 1, "inline", span.group(1).strip(), heading, _heading_endpoint(heading),
                                            before=line[: span.start()].strip())))
        i += 1
    return found


def _heading_endpoint(heading: str) -> str | None:
    """ "METHOD /path" when a heading names an HTTP endpoint, such as "DELETE /v1/presence/{channel}?user={user}"."""
    match = re.match(r"^(GET|POST|PUT|PATCH|DELETE) (/\S*)$", heading)
    return f"{match.group(1)} {match.group(2)}" if match else None


def _path_matches(template: str, path: str) -> bool:
    """Whether a path fits a template whose {name} parts each stand for one or more characters."""
    pattern = ".+".join(re.escape(part) for part in re.split(r"\{[^}]+\}", template))
    return re.fullmatch(pattern, path) is not None


def endpoint_schema(table: dict[str, str], endpoint: str | None) -> str | None:
    """The schema of table whose key fits endpoint ("METHOD /path?query"): same method, the path fits the
    key's template, and the request has every query parameter the key names; the most specific key wins."""
    if not endpoint:
        return None
    method, target = endpoint.split(" ", 1)
    parts = urlsplit(target)
    query = dict(parse_qsl(parts.query))
    best: tuple[int, str] | None = None
    for key, name in table.items():
        key_method, key_target = key.split(" ", 1)
        key_parts = urlsplit(key_target)
        key_query = dict(parse_qsl(key_parts.query))
        if key_method != method or not _path_matches(key_parts.path, parts.path):
            continue
        if all(query.get(k) == v for k, v in key_query.items()) and (best is None or len(key_query) > best[0]):
            best = (len(key_query), name)
    return best[1] if best else None


def _examples_in_plain_block(body: list[str], first_line: int, heading: str, status: int | None) -> list[Example]:
    """Curl requests and the responses after them; before any curl command, when the paragraph before the
    block names a status (as in "A conflict is a `409` with the body of ...") under an endpoint's heading,
    a response body of that endpoint and status."""
    out: list[Example] = []
    endpoint = None
    j = 0
    while j < len(body):
        text = body[j]
        if text.startswith("$ "):
            start = j
            command = text[2:]
            while command.rstrip().endswith("\\") and j + 1 < len(body):
                j += 1
                command = command.rstrip()[:-1] + " " + body[j].strip()
            if command.split()[0] == "curl":
                endpoint, request = _curl(command)
                if request is not None:
                    out.append(_parse(Example(first_line + start, "curl request", request, heading, endpoint)))
            j += 1
            continue
        if text.lstrip().startswith(("{", "[")):
            if endpoint:
                out.append(_parse(Example(first_line + j, "curl response", text.strip(), heading, endpoint)))
            elif status and _heading_endpoint(heading):
                out.append(_parse(Example(first_line + j, "response body", text.strip(), heading,
                                          _heading_endpoint(heading), status=status)))
            else:
                out.append(_parse(Example(first_line + j, "code block line", text.strip(), heading)))
        j += 1
    return out


def classify(example: Example) -> str | None:
    """The schema an example must validate against, or None when it cannot tell."""
    value = example.value
    if isinstance(value, dict) and "op" in value:
        return {**CLIENT_OPS, **SERVER_OPS}.get(value["op"]) if isinstance(value["op"], str) else None
    if example.source == "curl request":
        return endpoint_schema(REQUEST_SCHEMAS, example.endpoint)
    if example.source == "curl response":
        if isinstance(value, dict) and "error" in value:
            return "error-response.json"
        return endpoint_schema(RESPONSE_SCHEMAS, example.endpoint)
    if example.source == "response body":
        if isinstance(value, dict) and "error" in value:
            return "error-response.json"
        table = RESPONSE_SCHEMAS if example.status == 200 else STATUS_RESPONSE_SCHEMAS.get(example.status, {})
        return endpoint_schema(table, example.endpoint)
    if isinstance(value, dict) and set(value) == {"error"}:
        return "error-response.json"
    if example.source == "inline" and example.endpoint:
        # Under an endpoint's heading: a body of that endpoint, when only one direction has a schema.
        request = endpoint_schema(REQUEST_SCHEMAS, example.endpoint)
        response = endpoint_schema(RESPONSE_SCHEMAS, example.endpoint)
        if bool(request) != bool(response):
            return request or response
    if example.source == "inline" and (example.heading == "Records and conflicts" or example.heading.startswith("record.")):
        # README: "Versions travel as JSON objects, actor to counter"; the worked example also shows a
        # commit's "fields {...}".
        if re.search(r"\bfields$", example.before):
            return "commit-fields.json"
        if isinstance(value, dict) and value and all(type(v) in (int, float) for v in value.values()):
            return "version-vector.json"
    if isinstance(value, dict) and set(value) == {"offset", "epoch"}:
        # README, "subscribe" and "Recovery": the position a restored subscription names in `since`.
        return "stream-position.json"
    if isinstance(value, dict) and {"sub", "exp"} <= value.keys():
        # README, "Tokens": the claims a backend puts in a connection token.
        return "token-claims.json"
    if isinstance(value, dict) and {"channel", "type"} <= value.keys():
        return "live-event.json"
    return None


EXAMPLES = readme_examples()


def test_the_readme_has_examples_to_check():
    blocks = [e for e in EXAMPLES if e.source == "json block"]
    assert len(blocks) >= 9, f"expected the README's ```json blocks, found {len(blocks)}"
    assert any(e.source == "curl request" for e in EXAMPLES)
    assert any(e.source == "curl response" for e in EXAMPLES)


def test_skip_list_entries_still_occur_in_the_readme():
    texts = {e.text for e in EXAMPLES}
    stale = [snippet for snippet in SKIP if snippet not in texts]
    assert not stale, f"remove these from SKIP, the README no longer has them: {stale}"


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.label for e in EXAMPLES])
def test_readme_example_validates(example: Example):
    where = f"README.md line {example.line} ({example.source}, under {example.heading!r}): {example.text}"
    if example.text in SKIP:
        pytest.skip(SKIP[example.text])
    assert example.parse_error is None, f"{where}\nis not valid JSON: {example.parse_error}; fix it or add it to SKIP"
    name = classify(example)
    assert name is not None, (
        f"{where}\ncannot be classified (no known op, endpoint or LiveEvent shape): "
        "teach classify() about it so that it is checked, or add it to SKIP if it is not a document"
    )
    problems = errors(name, example.value)
    assert not problems, f"{where}\ndoes not validate against {name}:\n  " + "\n  ".join(problems)
    if name in CLIENT_OPS.values():
        assert not errors("client-frame.json", example.value)
    if name in SERVER_OPS.values():
        assert not errors("server-frame.json", example.value)


def test_presence_endpoint_examples_name_the_channel_of_their_path():
    # README: "The channel is the rest of the path, slashes included."
    checked = 0
    for example in EXAMPLES:
        if example.source != "curl response" or not isinstance(example.value, dict) or "channel" not in example.value:
            continue
        path = urlsplit(example.endpoint.split(" ", 1)[1]).path
        if path.startswith("/v1/presence/"):
            assert example.value["channel"] == path[len("/v1/presence/"):], f"README.md line {example.line}"
            checked += 1
    assert checked >= 3, "expected the curl examples of GET and POST /v1/presence/{channel}"


def test_records_endpoint_examples_name_their_record():
    # GET /v1/records answers for the record of its query; a commit's answer names the record of its body,
    # with the id as a string (1 and "1" are the same record).
    checked = 0
    request = None
    for example in EXAMPLES:
        if example.source not in ("curl request", "curl response") or not isinstance(example.value, dict):
            continue
        method, target = example.endpoint.split(" ", 1)
        parts = urlsplit(target)
        if not parts.path.startswith("/v1/records"):
            continue
        if example.source == "curl request":
            request = example.value
            continue
        if method == "GET":
            query = dict(parse_qsl(parts.query))
            expected = (query["channel"], query["id"])
        else:
            expected = (request["channel"], str(request["record"]))
        assert (example.value["channel"], example.value["record"]) == expected, f"README.md line {example.line}"
        checked += 1
    assert checked >= 2, "expected the curl examples of GET /v1/records and POST /v1/records/commit"


def test_every_schema_has_a_readme_example():
    covered = {classify(e) for e in EXAMPLES if e.text not in SKIP and e.parse_error is None}
    uncovered = EXPECTED_SCHEMAS - NOT_EXAMPLES - covered - NO_README_EXAMPLE.keys()
    assert not uncovered, f"the README has no example of {sorted(uncovered)}"
    assert not (covered & NO_README_EXAMPLE.keys()), "the README now has an example: shorten NO_README_EXAMPLE"


# --------------------------------------------------------------------------------------------------
# (c) frames the schemas must accept and reject

DELETE = object()


def with_(base: dict, **changes: Any) -> dict:
    """A deep copy of base with changes; a change "a__b" sets base["a"]["b"]; DELETE removes the key."""
    result = copy.deepcopy(base)
    for key, value in changes.items():
        *parents, last = key.split("__")
        target = result
        for parent in parents:
            target = target[parent]
        if value is DELETE:
            del target[last]
        else:
            target[last] = value
    return result


EVENT = {"channel": "resources/posts", "type": "updated", "payload": {"ids": [1, "2"]}, "date": "2026-11-22T10:00:00.000Z", "meta": {}}
SUBSCRIBE = {"op": "subscribe", "id": 1, "sub": "s1", "channel": "resources/posts", "types": ["*"], "params": {"ids": [1, "2"]}}
UNSUBSCRIBE = {"op": "unsubscribe", "id": 2, "sub": "s1"}
PUBLISH = {"op": "publish", "id": 3, "event": {"channel": "chat/room-1", "type": "message", "payload": {"text": "hi"}}}
PING = {"op": "ping", "id": 4}
WELCOME = {"op": "welcome", "v": 1, "epoch": "k3j9x0a1", "session": "c17", "user": "alice", "expiresAt": 1790000000000, "limits": {"maxMessageBytes": 65536, "maxSubscriptions": 128, "typingTtlMs": 3000}}
SUBSCRIBED = {"op": "subscribed", "id": 1, "sub": "s1", "channel": "resources/posts", "offset": 41, "epoch": "k3j9x0a1"}
UNSUBSCRIBED = {"op": "unsubscribed", "id": 2, "sub": "s1"}
PUBLISHED = {"op": "published", "id": 3, "channel": "chat/room-1", "offset": 8}
PONG = {"op": "pong", "id": 4}
EVENT_FRAME = {"op": "event", "channel": "resources/posts", "offset": 42, "event": EVENT}
ERROR = {"op": "error", "id": 3, "code": "forbidden", "message": "clients may not publish on resources/posts"}
PUBLISH_RESPONSE = {"results": [{"channel": "resources/posts", "offset": 42}]}
ERROR_RESPONSE = {"error": {"code": "unauthorized", "message": "missing or invalid API key"}}
HEALTHZ = {"status": "ok", "version": "0.15.0", "epoch": "k3j9x0a1", "connections": 3}
READYZ = {"ready": False, "reason": "Redis is unavailable: the connection was lost", "node": "k2m9q0x7a1b3"}
MEMBER = {"user": "alice", "info": {"name": "Alice"}, "connections": 2}
TYPIST = {"user": "bob", "name": "Bob", "scope": "new-comment"}
PRESENCE_ENTER = {"op": "presence.enter", "id": 10, "channel": "presence/posts/1", "info": {"name": "Alice", "avatar": "/a.png", "field": "title"}}
PRESENCE_UPDATE = {"op": "presence.update", "id": 11, "channel": "presence/posts/1", "info": {"name": "Alice", "field": "body"}}
PRESENCE_LEAVE = {"op": "presence.leave", "id": 12, "channel": "presence/posts/1"}
PRESENCE_SUBSCRIBE = {"op": "presence.subscribe", "id": 13, "channel": "presence/posts/1"}
PRESENCE_UNSUBSCRIBE = {"op": "presence.unsubscribe", "id": 14, "channel": "presence/posts/1"}
TYPING_START = {"op": "typing.start", "channel": "comments/posts/1", "scope": "new-comment"}
TYPING_STOP = {"op": "typing.stop", "channel": "comments/posts/1", "scope": "new-comment"}
TYPING_SUBSCRIBE = {"op": "typing.subscribe", "id": 20, "channel": "comments/posts/1"}
TYPING_UNSUBSCRIBE = {"op": "typing.unsubscribe", "id": 21, "channel": "comments/posts/1"}
PRESENCE_ENTERED = {"op": "presence.entered", "id": 10, "channel": "presence/posts/1"}
PRESENCE_UPDATED = {"op": "presence.updated", "id": 11, "channel": "presence/posts/1"}
PRESENCE_LEFT = {"op": "presence.left", "id": 12, "channel": "presence/posts/1"}
PRESENCE_SNAPSHOT = {"op": "presence.snapshot", "id": 13, "channel": "presence/posts/1", "total": 2,
                     "members": [MEMBER, {"user": "bob", "info": {"name": "Bob"}, "connections": 1}]}
PRESENCE_UNSUBSCRIBED = {"op": "presence.unsubscribed", "id": 14, "channel": "presence/posts/1"}
PRESENCE_EVENT = {"op": "presence.event", "channel": "presence/posts/1", "action": "join",
                  "member": {"user": "carol", "info": {"name": "Carol"}, "connections": 1}}
TYPING_OK = {"op": "typing.ok", "id": 22}
AUTH = {"op": "auth", "id": 3, "token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"}
AUTHED = {"op": "authed", "id": 3, "user": "alice", "expiresAt": 1790000900000}
TOKEN_EXPIRING = {"op": "token.expiring", "expiresAt": 1790000000000}
CLAIMS = {"sub": "alice", "name": "Alice", "info": {"color": "#e33"}, "exp": 1790000000,
          "caps": {"resources/*": ["subscribe"], "chat/*": ["subscribe", "publish"],
                   "presence/posts/*": ["presence", "typing"], "resources/posts": ["subscribe", "commit"]}}
TYPING_SNAPSHOT = {"op": "typing.snapshot", "id": 20, "channel": "comments/posts/1", "typing": [TYPIST]}
TYPING_UNSUBSCRIBED = {"op": "typing.unsubscribed", "id": 21, "channel": "comments/posts/1"}
TYPING_EVENT = {"op": "typing.event", "channel": "comments/posts/1", "action": "started", "typist": TYPIST}
PRESENCE_LIST = {"channel": "presence/posts/1", "total": 1, "members": [MEMBER]}
PRESENCE_COUNT = {"channel": "presence/posts/1", "total": 1}
PRESENCE_POST = {"user": "dave", "info": {"name": "Dave"}, "ttlMs": 30000}
PRESENCE_POSTED = {"channel": "presence/posts/1", "user": "dave", "ttlMs": 30000}
PRESENCE_DELETED = {"channel": "presence/posts/1", "user": "dave", "removed": True}
VERSION = {"server": 1, "bob": 1}
DOT = {"actor": "alice", "counter": 1}
CHANGE = {"field": "title", "actor": "bob", "at": "2026-11-22T10:00:00.000Z", "value": "Hi"}
WRITE = {"actor": "bob", "counter": 1, "at": "2026-11-22T10:00:00.000Z", "value": "Hi"}
DELETED_BY = {"actor": "bob", "at": "2026-11-22T10:05:00.000Z"}
RECORD_GET = {"op": "record.get", "id": 30, "channel": "resources/posts", "record": 1}
RECORD_STATE = {"op": "record.state", "id": 30, "channel": "resources/posts", "record": "1", "version": VERSION,
                "deleted": False, "fields": {"title": WRITE}}
RECORD_EDIT = {"op": "record.edit", "id": 31, "channel": "resources/posts", "record": 1, "version": {"server": 1}}
RECORD_EDITING = {"op": "record.editing", "id": 31, "channel": "resources/posts", "record": "1"}
RECORD_STOP = {"op": "record.stop", "id": 32, "channel": "resources/posts", "record": 1}
RECORD_STOPPED = {"op": "record.stopped", "id": 32, "channel": "resources/posts", "record": "1"}
RECORD_COMMIT = {"op": "record.commit", "id": 33, "channel": "resources/posts", "record": 1, "version": {"server": 1},
                 "fields": {"title": "Hello", "body": None}}
RECORD_COMMITTED = {"op": "record.committed", "id": 33, "channel": "resources/posts", "record": "1",
                    "version": {"server": 1, "alice": 1}, "dot": DOT, "fields": ["body", "title"], "deleted": False}
RECORD_CONFLICT = {"op": "record.conflict", "id": 33, "channel": "resources/posts", "record": "1", "kind": "fields",
                   "version": VERSION, "conflicts": [CHANGE]}
RECORD_DELETE = {"op": "record.delete", "id": 34, "channel": "resources/posts", "record": 1, "version": VERSION}
RECORD_STALE = {"op": "record.stale", "channel": "resources/posts", "record": "1", "by": "bob", "deleted": False,
                "version": VERSION, "changes": [CHANGE]}
RECORD_STATE_BODY = with_(RECORD_STATE, op=DELETE, id=DELETE)
COMMIT_REQUEST = {"channel": "resources/posts", "record": 1, "version": {"server": 1}, "fields": {"title": "Hello"}, "actor": "alice"}
COMMIT_RESPONSE = {"channel": "resources/posts", "record": "1", "version": {"server": 1, "alice": 1}, "dot": DOT,
                   "fields": ["title"], "deleted": False}
CONFLICT_RESPONSE = with_(RECORD_CONFLICT, op=DELETE, id=DELETE)
DELETE_REQUEST = {"channel": "resources/posts", "record": 1, "version": VERSION, "actor": "alice"}

PRINTABLE_WITHOUT_STAR = "".join(chr(c) for c in range(0x21, 0x7F) if c != ord("*"))
MINIMAL_EVENT = {"channel": "c", "type": "t"}


def _events(n: int) -> list[dict]:
    return [with_(EVENT, payload={"ids": [i]}) for i in range(n)]


VALID: list[tuple[str, str, Any]] = [
    # (label, schema, instance)
    ("live event as in README", "live-event.json", EVENT),
    ("live event: only channel and type (server fills payload and date)", "live-event.json", MINIMAL_EVENT),
    ("live event: every printable ASCII byte but * in channel", "live-event.json", with_(EVENT, channel=PRINTABLE_WITHOUT_STAR)),
    ("live event: 200-byte channel", "live-event.json", with_(EVENT, channel="c" * 200)),
    ("live event: 100-char type", "live-event.json", with_(EVENT, type="t" * 100)),
    ("live event: custom type and payload fields", "live-event.json", with_(EVENT, type="message", payload={"text": "hi", "ids": []})),
    ("live event: unknown top-level field passed through", "live-event.json", with_(EVENT, extra={"x": 1})),
    ("live event: meta with dataProviderName", "live-event.json", with_(EVENT, meta={"dataProviderName": "default"})),
    ("subscribe: README", "subscribe.json", SUBSCRIBE),
    ("subscribe: minimal", "subscribe.json", {"op": "subscribe", "sub": "s", "channel": "c"}),
    ("subscribe: numeric sub", "subscribe.json", with_(SUBSCRIBE, sub=7)),
    ("subscribe: 64-char sub", "subscribe.json", with_(SUBSCRIBE, sub="s" * 64)),
    ("subscribe: 64-char string id", "subscribe.json", with_(SUBSCRIBE, id="i" * 64)),
    ("subscribe: 64 types", "subscribe.json", with_(SUBSCRIBE, types=[f"t{i}" for i in range(64)])),
    ("subscribe: 1000 ids", "subscribe.json", with_(SUBSCRIBE, params={"ids": list(range(1000))})),
    ("subscribe: Refine params beyond ids", "subscribe.json",
     with_(SUBSCRIBE, params={"ids": [1], "id": 1, "subscriptionType": "useOne", "resource": "posts"})),
    ("subscribe: unknown field ignored", "subscribe.json", with_(SUBSCRIBE, future={"x": 1})),
    ("subscribe: restored with since", "subscribe.json", with_(SUBSCRIBE, since={"offset": 41, "epoch": "k3j9x0a1"})),
    ("subscribe: coalescing, 10 ms", "subscribe.json", with_(SUBSCRIBE, coalesce=10)),
    ("subscribe: coalescing, 60 s", "subscribe.json", with_(SUBSCRIBE, coalesce=60000)),
    ("stream position: README", "stream-position.json", {"offset": 41, "epoch": "k3j9x0a1"}),
    ("stream position: offset 0, 64-byte epoch", "stream-position.json", {"offset": 0, "epoch": "e" * 64}),
    ("unsubscribe: README", "unsubscribe.json", UNSUBSCRIBE),
    ("unsubscribe: numeric sub, no id", "unsubscribe.json", {"op": "unsubscribe", "sub": 7}),
    ("publish: README", "publish.json", PUBLISH),
    ("ping: README", "ping.json", PING),
    ("ping: without id", "ping.json", {"op": "ping"}),
    ("client frame: each command", "client-frame.json", SUBSCRIBE),
    ("client frame: ping with string id", "client-frame.json", {"op": "ping", "id": "x"}),
    ("welcome: README", "welcome.json", WELCOME),
    ("welcome: anonymous user", "welcome.json", with_(WELCOME, user=None)),
    ("welcome: added field and limit", "welcome.json", with_(WELCOME, extra=1, limits__maxIds=1000)),
    ("subscribed: README", "subscribed.json", SUBSCRIBED),
    ("subscribed: offset 0, no id", "subscribed.json", with_(SUBSCRIBED, offset=0, id=DELETE)),
    ("subscribed: recovered", "subscribed.json", with_(SUBSCRIBED, recovered=True, replayed=2)),
    ("subscribed: not recovered", "subscribed.json", with_(SUBSCRIBED, recovered=False, reason="history_too_short")),
    ("unsubscribed: README", "unsubscribed.json", UNSUBSCRIBED),
    ("published: README", "published.json", PUBLISHED),
    ("pong: README", "pong.json", PONG),
    ("event: README", "event.json", EVENT_FRAME),
    ("event: replayed for one subscription", "event.json", with_(EVENT_FRAME, sub="s1")),
    ("error: README", "error.json", ERROR),
    ("error: without id", "error.json", with_(ERROR, id=DELETE, code="invalid_json")),
    ("server frame: event", "server-frame.json", EVENT_FRAME),
    ("server frame: error", "server-frame.json", ERROR),
    ("publish request: one event", "publish-request.json", EVENT),
    ("publish request: empty array", "publish-request.json", []),
    ("publish request: array of 1000", "publish-request.json", _events(1000)),
    ("publish request: wrapped 1000", "publish-request.json", {"events": _events(1000)}),
    ("publish request: an object whose events is an array is the wrapped form", "publish-request.json",
     with_(EVENT, events=[])),
    ("publish request: an events field that is no array leaves a LiveEvent", "publish-request.json",
     with_(EVENT, events="x")),
    ("publish response", "publish-response.json", PUBLISH_RESPONSE),
    ("publish response: empty batch", "publish-response.json", {"results": []}),
    ("error response", "error-response.json", ERROR_RESPONSE),
    ("healthz response", "healthz-response.json", HEALTHZ),
    ("readyz response", "readyz-response.json", READYZ),
    ("readyz response, ready", "readyz-response.json", {"ready": True}),
    ("reconnect: README", "reconnect.json", {"op": "reconnect", "afterMs": 1234}),
    ("reconnect: at once", "reconnect.json", {"op": "reconnect", "afterMs": 0}),
    ("history response: all kept", "history-response.json", {"channel": "resources/posts", "epoch": "k3j9x0a1", "offset": 42, "events": [EVENT_FRAME]}),
    ("history response: since, nothing kept", "history-response.json",
     {"channel": "resources/posts", "epoch": "k3j9x0a1", "offset": 0, "complete": True, "events": []}),
    # presence and typing: shared shapes
    ("member: README", "presence-member.json", MEMBER),
    ("member: 0 connections (as in a leave event)", "presence-member.json", with_(MEMBER, connections=0)),
    ("member: info may be any JSON value", "presence-member.json", with_(MEMBER, info="Alice")),
    ("member: null info", "presence-member.json", with_(MEMBER, info=None)),
    ("member: added field", "presence-member.json", with_(MEMBER, since="2026-11-22T10:00:00.000Z")),
    ("typist: README", "typist.json", TYPIST),
    ("typist: no scope, no name", "typist.json", with_(TYPIST, scope=None, name=None)),
    ("typist: 64-char scope", "typist.json", with_(TYPIST, scope="s" * 64)),
    # presence and typing: commands
    ("presence.enter: README", "presence.enter.json", PRESENCE_ENTER),
    ("presence.enter: minimal (no id, no info)", "presence.enter.json", {"op": "presence.enter", "channel": "c"}),
    ("presence.enter: info is a string", "presence.enter.json", with_(PRESENCE_ENTER, info="Alice")),
    ("presence.enter: unknown field ignored", "presence.enter.json", with_(PRESENCE_ENTER, future=1)),
    ("presence.update: README", "presence.update.json", PRESENCE_UPDATE),
    ("presence.update: null info", "presence.update.json", with_(PRESENCE_UPDATE, info=None, id=DELETE)),
    ("presence.leave: README", "presence.leave.json", PRESENCE_LEAVE),
    ("presence.leave: string id", "presence.leave.json", with_(PRESENCE_LEAVE, id="leave-1")),
    ("presence.subscribe: README", "presence.subscribe.json", PRESENCE_SUBSCRIBE),
    ("presence.unsubscribe: README", "presence.unsubscribe.json", PRESENCE_UNSUBSCRIBE),
    ("typing.start: README", "typing.start.json", TYPING_START),
    ("typing.start: no scope, with id", "typing.start.json", {"op": "typing.start", "id": 7, "channel": "c"}),
    ("typing.start: null scope", "typing.start.json", with_(TYPING_START, scope=None)),
    ("typing.start: 64-char scope", "typing.start.json", with_(TYPING_START, scope="s" * 64)),
    ("typing.stop: README", "typing.stop.json", TYPING_STOP),
    ("typing.stop: no scope", "typing.stop.json", with_(TYPING_STOP, scope=DELETE)),
    ("typing.subscribe: README", "typing.subscribe.json", TYPING_SUBSCRIBE),
    ("typing.unsubscribe: README", "typing.unsubscribe.json", TYPING_UNSUBSCRIBE),
    ("client frame: presence.enter", "client-frame.json", PRESENCE_ENTER),
    ("client frame: typing.start without id", "client-frame.json", TYPING_START),
    ("client frame: typing.unsubscribe", "client-frame.json", TYPING_UNSUBSCRIBE),
    # presence and typing: replies and pushes
    ("presence.entered: README", "presence.entered.json", PRESENCE_ENTERED),
    ("presence.entered: no id", "presence.entered.json", with_(PRESENCE_ENTERED, id=DELETE)),
    ("presence.updated: README", "presence.updated.json", PRESENCE_UPDATED),
    ("presence.left: README", "presence.left.json", PRESENCE_LEFT),
    ("presence.snapshot: README", "presence.snapshot.json", PRESENCE_SNAPSHOT),
    ("presence.snapshot: empty channel", "presence.snapshot.json", with_(PRESENCE_SNAPSHOT, total=0, members=[])),
    ("presence.snapshot: capped list (total above the members listed)", "presence.snapshot.json",
     with_(PRESENCE_SNAPSHOT, total=250, members=[with_(MEMBER, user=f"u{i}") for i in range(100)])),
    ("presence.unsubscribed: README", "presence.unsubscribed.json", PRESENCE_UNSUBSCRIBED),
    ("presence.event: README (join)", "presence.event.json", PRESENCE_EVENT),
    ("presence.event: update", "presence.event.json", with_(PRESENCE_EVENT, action="update", member=MEMBER)),
    ("presence.event: leave with 0 connections", "presence.event.json",
     with_(PRESENCE_EVENT, action="leave", member__connections=0)),
    ("typing.ok: numeric id", "typing.ok.json", TYPING_OK),
    ("typing.ok: string id", "typing.ok.json", with_(TYPING_OK, id="t1")),
    ("typing.snapshot: README", "typing.snapshot.json", TYPING_SNAPSHOT),
    ("typing.snapshot: nobody typing", "typing.snapshot.json", with_(TYPING_SNAPSHOT, typing=[])),
    ("typing.unsubscribed: README", "typing.unsubscribed.json", TYPING_UNSUBSCRIBED),
    ("typing.event: README (started)", "typing.event.json", TYPING_EVENT),
    ("typing.event: stopped, no scope", "typing.event.json", with_(TYPING_EVENT, action="stopped", typist__scope=None)),
    ("server frame: presence.snapshot", "server-frame.json", PRESENCE_SNAPSHOT),
    ("server frame: typing.ok", "server-frame.json", TYPING_OK),
    ("server frame: typing.event", "server-frame.json", TYPING_EVENT),
    ("error: not_present", "error.json", with_(ERROR, code="not_present", message="not present in presence/posts/1: enter it first")),
    ("error: rate_limited without id", "error.json", with_(ERROR, id=DELETE, code="rate_limited")),
    ("error response: rate_limited", "error-response.json", with_(ERROR_RESPONSE, error__code="rate_limited")),
    # presence: HTTP
    ("presence list response: README", "presence-list-response.json", PRESENCE_LIST),
    ("presence list response: nobody", "presence-list-response.json", with_(PRESENCE_LIST, total=0, members=[])),
    ("presence list response: limit=0", "presence-list-response.json", with_(PRESENCE_LIST, total=3, members=[])),
    ("presence count response: README", "presence-count-response.json", PRESENCE_COUNT),
    ("presence count response: 0", "presence-count-response.json", with_(PRESENCE_COUNT, total=0)),
    ("presence POST request: README", "presence-post-request.json", PRESENCE_POST),
    ("presence POST request: user alone (default TTL, no info)", "presence-post-request.json", {"user": "dave"}),
    ("presence POST request: ttlMs 1", "presence-post-request.json", with_(PRESENCE_POST, ttlMs=1)),
    ("presence POST request: ttlMs 86,400,000", "presence-post-request.json", with_(PRESENCE_POST, ttlMs=86_400_000)),
    ("presence POST response: README", "presence-post-response.json", PRESENCE_POSTED),
    ("presence DELETE response: README", "presence-delete-response.json", PRESENCE_DELETED),
    ("presence DELETE response: nothing removed", "presence-delete-response.json", with_(PRESENCE_DELETED, removed=False)),
    # records: shared shapes
    ("version: README", "version-vector.json", VERSION),
    ("version: empty (a record never written)", "version-vector.json", {}),
    ("version: floor actor ~", "version-vector.json", {"alice": 3, "~": 1}),
    ("version: counter 0", "version-vector.json", {"alice": 0}),
    ("version: counter 2^53", "version-vector.json", {"alice": 2**53}),
    ("version: counter spelled 2.0", "version-vector.json", {"alice": 2.0}),
    ("version: 200-char actor", "version-vector.json", {"a" * 200: 1}),
    ("version: 33 actors (the limit is a flag)", "version-vector.json", {f"u{i}": 1 for i in range(33)}),
    ("dot: README", "dot.json", DOT),
    ("dot: folded (~:2)", "dot.json", {"actor": "~", "counter": 2}),
    ("field change: README", "field-change.json", CHANGE),
    ("field change: no value shared", "field-change.json", with_(CHANGE, value=DELETE)),
    ("field change: whole record", "field-change.json", with_(CHANGE, field="*", value=DELETE)),
    ("field change: value is any JSON", "field-change.json", with_(CHANGE, value={"text": ["a", 1, None]})),
    ("field change: folded actor, time with an offset", "field-change.json", with_(CHANGE, actor="~", at="2026-11-22T11:00:00+01:00")),
    ("field change: added field", "field-change.json", with_(CHANGE, counter=1)),
    ("commit fields: README", "commit-fields.json", {"title": "Hello", "body": None}),
    ("commit fields: names", "commit-fields.json", ["title", "body"]),
    ("commit fields: 100 values", "commit-fields.json", {f"f{i}": i for i in range(100)}),
    ("commit fields: 100 names", "commit-fields.json", [f"f{i}" for i in range(100)]),
    ("commit fields: 100-char name", "commit-fields.json", {"f" * 100: 1}),
    # records: commands
    ("record.get: README", "record.get.json", RECORD_GET),
    ("record.get: string record, no id", "record.get.json", with_(RECORD_GET, record="9f2c", id=DELETE)),
    ("record.get: 200-char record", "record.get.json", with_(RECORD_GET, record="r" * 200)),
    ("record.edit: README", "record.edit.json", RECORD_EDIT),
    ("record.edit: empty context", "record.edit.json", with_(RECORD_EDIT, version={})),
    ("record.stop: README", "record.stop.json", RECORD_STOP),
    ("record.stop: string id and record", "record.stop.json", with_(RECORD_STOP, id="s", record="1")),
    ("record.commit: README", "record.commit.json", RECORD_COMMIT),
    ("record.commit: names", "record.commit.json", with_(RECORD_COMMIT, fields=["title"])),
    ("record.commit: whole record (no fields)", "record.commit.json", with_(RECORD_COMMIT, fields=DELETE)),
    ("record.commit: 100 fields", "record.commit.json", with_(RECORD_COMMIT, fields={f"f{i}": None for i in range(100)})),
    ("record.commit: unknown field ignored", "record.commit.json", with_(RECORD_COMMIT, future=1)),
    ("record.delete: README", "record.delete.json", RECORD_DELETE),
    ("client frame: record.commit", "client-frame.json", RECORD_COMMIT),
    ("client frame: record.get", "client-frame.json", RECORD_GET),
    ("client frame: record.delete", "client-frame.json", RECORD_DELETE),
    # records: replies and pushes
    ("record.state: README", "record.state.json", RECORD_STATE),
    ("record.state: never written", "record.state.json", with_(RECORD_STATE, version={}, fields={})),
    ("record.state: deleted", "record.state.json", with_(RECORD_STATE, deleted=True, deletedBy=DELETED_BY)),
    ("record.state: folded write without value", "record.state.json",
     with_(RECORD_STATE, fields={"title": with_(WRITE, actor="~", value=DELETE)})),
    ("record.editing: README", "record.editing.json", RECORD_EDITING),
    ("record.editing: no id", "record.editing.json", with_(RECORD_EDITING, id=DELETE)),
    ("record.stopped: README", "record.stopped.json", RECORD_STOPPED),
    ("record.committed: README", "record.committed.json", RECORD_COMMITTED),
    ("record.committed: whole record", "record.committed.json", with_(RECORD_COMMITTED, fields=[])),
    ("record.committed: deletion", "record.committed.json", with_(RECORD_COMMITTED, fields=[], deleted=True)),
    ("record.conflict: README", "record.conflict.json", RECORD_CONFLICT),
    ("record.conflict: with a whole-record write", "record.conflict.json",
     with_(RECORD_CONFLICT, conflicts=[with_(CHANGE, field="*", value=DELETE)])),
    ("record.conflict: deleted", "record.conflict.json",
     with_(RECORD_CONFLICT, kind="deleted", conflicts=[], deletedBy=DELETED_BY)),
    ("record.stale: README", "record.stale.json", RECORD_STALE),
    ("record.stale: deletion", "record.stale.json",
     with_(RECORD_STALE, deleted=True, changes=[{"field": "*", "actor": "bob", "at": "2026-11-22T10:05:00.000Z"}])),
    ("server frame: record.state", "server-frame.json", RECORD_STATE),
    ("server frame: record.conflict", "server-frame.json", RECORD_CONFLICT),
    ("server frame: record.stale", "server-frame.json", RECORD_STALE),
    ("error: unavailable", "error.json", with_(ERROR, code="unavailable", message="the record store is unavailable")),
    ("error response: unavailable", "error-response.json", with_(ERROR_RESPONSE, error__code="unavailable")),
    # records: HTTP
    ("record state response: README", "record-state-response.json", RECORD_STATE_BODY),
    ("record state response: deleted", "record-state-response.json", with_(RECORD_STATE_BODY, deleted=True, deletedBy=DELETED_BY)),
    ("commit request: README", "record-commit-request.json", COMMIT_REQUEST),
    ("commit request: minimal (whole record, actor backend)", "record-commit-request.json",
     {"channel": "resources/posts", "record": "1", "version": {}}),
    ("commit request: dry run with names", "record-commit-request.json", with_(COMMIT_REQUEST, fields=["title"], dryRun=True)),
    ("commit response: README", "record-commit-response.json", COMMIT_RESPONSE),
    ("commit response: deletion", "record-commit-response.json", with_(COMMIT_RESPONSE, fields=[], deleted=True)),
    ("conflict response: README", "record-conflict-response.json", CONFLICT_RESPONSE),
    ("conflict response: deleted", "record-conflict-response.json",
     with_(CONFLICT_RESPONSE, kind="deleted", conflicts=[], deletedBy=DELETED_BY)),
    ("delete request: README keys", "record-delete-request.json", DELETE_REQUEST),
    ("delete request: no actor (backend)", "record-delete-request.json", with_(DELETE_REQUEST, actor=DELETE)),
    # user ids (development mode: 1 to 200 bytes, not starting with ~)
    ("welcome: 200-char user", "welcome.json", with_(WELCOME, user="u" * 200)),
    # tokens
    ("welcome: anonymous, no token (expiresAt null)", "welcome.json", with_(WELCOME, user=None, expiresAt=None)),
    ("auth: README", "auth.json", AUTH),
    ("auth: no id", "auth.json", with_(AUTH, id=DELETE)),
    ("auth: any non-empty string is a frame (the server answers unauthorized)", "auth.json", with_(AUTH, token="x")),
    ("client frame: auth", "client-frame.json", AUTH),
    ("authed: README", "authed.json", AUTHED),
    ("authed: no id", "authed.json", with_(AUTHED, id=DELETE)),
    ("server frame: authed", "server-frame.json", AUTHED),
    ("token.expiring: README", "token.expiring.json", TOKEN_EXPIRING),
    ("server frame: token.expiring", "server-frame.json", TOKEN_EXPIRING),
    ("error: too_many_connections", "error.json", with_(ERROR, id=DELETE, code="too_many_connections")),
    ("error response: too_many_connections", "error-response.json", with_(ERROR_RESPONSE, error__code="too_many_connections")),
    ("claims: README", "token-claims.json", CLAIMS),
    ("claims: sub and exp alone", "token-claims.json", {"sub": "alice", "exp": 1790000000}),
    ("claims: fractional exp, nbf, aud list, iss, other claims", "token-claims.json",
     with_(CLAIMS, exp=1790000000.5, nbf=1789999000, aud=["concord", "api"], iss="https://id.example.com/", iat=1789999000, jti="x")),
    ("claims: every capability on every channel", "token-claims.json", with_(CLAIMS, caps={"*": ["*"]})),
    ("claims: null name, info and caps", "token-claims.json", with_(CLAIMS, name=None, info=None, caps=None)),
    ("claims: empty capability list", "token-claims.json", with_(CLAIMS, caps={"resources/posts": []})),
    ("member: user with ~ inside", "presence-member.json", with_(MEMBER, user="a~b")),
]

INVALID: list[tuple[str, str, Any]] = [
    # LiveEvent
    ("event: missing channel", "live-event.json", with_(EVENT, channel=DELETE)),
    ("event: missing type", "live-event.json", with_(EVENT, type=DELETE)),
    ("event: empty type", "live-event.json", with_(EVENT, type="")),
    ("event: 101-char type", "live-event.json", with_(EVENT, type="t" * 101)),
    ("event: numeric type", "live-event.json", with_(EVENT, type=1)),
    ("event: channel with a space", "live-event.json", with_(EVENT, channel="resources posts")),
    ("event: channel with *", "live-event.json", with_(EVENT, channel="resources/*")),
    ("event: empty channel", "live-event.json", with_(EVENT, channel="")),
    ("event: 201-byte channel", "live-event.json", with_(EVENT, channel="c" * 201)),
    ("event: non-ASCII channel", "live-event.json", with_(EVENT, channel="caf\u00e9")),
    ("event: channel with a tab", "live-event.json", with_(EVENT, channel="a\tb")),
    ("event: channel with a newline at the end", "live-event.json", with_(EVENT, channel="a\n")),
    ("event: channel with DEL", "live-event.json", with_(EVENT, channel="a\x7f")),
    ("event: payload is an array", "live-event.json", with_(EVENT, payload=[1])),
    ("event: payload.ids is not an array", "live-event.json", with_(EVENT, payload={"ids": 1})),
    ("event: payload.ids holds a boolean", "live-event.json", with_(EVENT, payload={"ids": [True]})),
    ("event: payload.ids holds null", "live-event.json", with_(EVENT, payload={"ids": [None]})),
    ("event: payload.ids holds an object", "live-event.json", with_(EVENT, payload={"ids": [{"id": 1}]})),
    ("event: numeric date", "live-event.json", with_(EVENT, date=1763805600000)),
    ("event: meta is a string", "live-event.json", with_(EVENT, meta="x")),
    ("event: not an object", "live-event.json", ["resources/posts", "updated"]),
    # subscribe
    ("subscribe: missing sub", "subscribe.json", with_(SUBSCRIBE, sub=DELETE)),
    ("subscribe: since without epoch", "subscribe.json", with_(SUBSCRIBE, since={"offset": 1})),
    ("subscribe: since with a negative offset", "subscribe.json", with_(SUBSCRIBE, since={"offset": -1, "epoch": "e"})),
    ("subscribe: since with an empty epoch", "subscribe.json", with_(SUBSCRIBE, since={"offset": 1, "epoch": ""})),
    ("subscribe: since with a 65-byte epoch", "subscribe.json", with_(SUBSCRIBE, since={"offset": 1, "epoch": "e" * 65})),
    ("subscribe: since is a string", "subscribe.json", with_(SUBSCRIBE, since="41")),
    ("subscribe: coalescing, 9 ms", "subscribe.json", with_(SUBSCRIBE, coalesce=9)),
    ("subscribe: coalescing, over 60 s", "subscribe.json", with_(SUBSCRIBE, coalesce=60001)),
    ("subscribe: coalescing, a string", "subscribe.json", with_(SUBSCRIBE, coalesce="500")),
    ("stream position: fractional offset", "stream-position.json", {"offset": 1.5, "epoch": "e"}),
    ("stream position: numeric epoch", "stream-position.json", {"offset": 1, "epoch": 7}),
    ("subscribed: an unknown reason", "subscribed.json", with_(SUBSCRIBED, recovered=False, reason="lost")),
    ("subscribed: a negative replayed", "subscribed.json", with_(SUBSCRIBED, recovered=True, replayed=-1)),
    ("subscribe: empty sub", "subscribe.json", with_(SUBSCRIBE, sub="")),
    ("subscribe: 65-char sub", "subscribe.json", with_(SUBSCRIBE, sub="s" * 65)),
    ("subscribe: boolean sub", "subscribe.json", with_(SUBSCRIBE, sub=True)),
    ("subscribe: null sub", "subscribe.json", with_(SUBSCRIBE, sub=None)),
    ("subscribe: missing channel", "subscribe.json", with_(SUBSCRIBE, channel=DELETE)),
    ("subscribe: numeric channel", "subscribe.json", with_(SUBSCRIBE, channel=3)),
    ("subscribe: channel with a space", "subscribe.json", with_(SUBSCRIBE, channel="a b")),
    ("subscribe: channel pattern with *", "subscribe.json", with_(SUBSCRIBE, channel="resources/*")),
    ("subscribe: 65 types", "subscribe.json", with_(SUBSCRIBE, types=[f"t{i}" for i in range(65)])),
    ("subscribe: types is a string", "subscribe.json", with_(SUBSCRIBE, types="*")),
    ("subscribe: numeric type", "subscribe.json", with_(SUBSCRIBE, types=[1])),
    ("subscribe: params is an array", "subscribe.json", with_(SUBSCRIBE, params=[])),
    ("subscribe: params.ids is an object", "subscribe.json", with_(SUBSCRIBE, params={"ids": {}})),
    ("subscribe: params.ids holds null", "subscribe.json", with_(SUBSCRIBE, params={"ids": [None]})),
    ("subscribe: 1001 ids", "subscribe.json", with_(SUBSCRIBE, params={"ids": list(range(1001))})),
    ("subscribe: 65-char id", "subscribe.json", with_(SUBSCRIBE, id="i" * 65)),
    ("subscribe: object id", "subscribe.json", with_(SUBSCRIBE, id={"a": 1})),
    ("subscribe: null id", "subscribe.json", with_(SUBSCRIBE, id=None)),
    ("subscribe: wrong op", "subscribe.json", with_(SUBSCRIBE, op="subscrib")),
    # unsubscribe, publish, ping
    ("unsubscribe: missing sub", "unsubscribe.json", with_(UNSUBSCRIBE, sub=DELETE)),
    ("unsubscribe: 65-char sub", "unsubscribe.json", with_(UNSUBSCRIBE, sub="s" * 65)),
    ("publish: missing event", "publish.json", with_(PUBLISH, event=DELETE)),
    ("publish: event is an array", "publish.json", with_(PUBLISH, event=[])),
    ("publish: event without type", "publish.json", with_(PUBLISH, event__type=DELETE)),
    ("publish: event on a bad channel", "publish.json", with_(PUBLISH, event__channel="chat room")),
    ("ping: boolean id", "ping.json", with_(PING, id=True)),
    # client-frame union
    ("client frame: missing op", "client-frame.json", {"id": 1}),
    ("client frame: numeric op", "client-frame.json", {"op": 5}),
    ("client frame: unknown op", "client-frame.json", {"op": "subscrib", "sub": "s", "channel": "c"}),
    ("client frame: unknown dotted op", "client-frame.json", {"op": "record.watch", "channel": "c", "record": 1}),
    ("client frame: presence.enter without channel", "client-frame.json", with_(PRESENCE_ENTER, channel=DELETE)),
    ("client frame: a server push", "client-frame.json", PRESENCE_EVENT),
    ("client frame: a server frame", "client-frame.json", PONG),
    ("client frame: subscribe without sub", "client-frame.json", with_(SUBSCRIBE, sub=DELETE)),
    ("client frame: not an object", "client-frame.json", [SUBSCRIBE]),
    # server frames
    ("welcome: version 2", "welcome.json", with_(WELCOME, v=2)),
    ("welcome: missing user", "welcome.json", with_(WELCOME, user=DELETE)),
    ("welcome: numeric user", "welcome.json", with_(WELCOME, user=5)),
    ("welcome: missing maxSubscriptions", "welcome.json", with_(WELCOME, limits__maxSubscriptions=DELETE)),
    ("welcome: fractional maxMessageBytes", "welcome.json", with_(WELCOME, limits__maxMessageBytes=1.5)),
    ("subscribed: missing epoch", "subscribed.json", with_(SUBSCRIBED, epoch=DELETE)),
    ("subscribed: negative offset", "subscribed.json", with_(SUBSCRIBED, offset=-1)),
    ("subscribed: fractional offset", "subscribed.json", with_(SUBSCRIBED, offset=41.5)),
    ("subscribed: string offset", "subscribed.json", with_(SUBSCRIBED, offset="41")),
    ("unsubscribed: missing sub", "unsubscribed.json", with_(UNSUBSCRIBED, sub=DELETE)),
    ("published: offset 0", "published.json", with_(PUBLISHED, offset=0)),
    ("published: missing channel", "published.json", with_(PUBLISHED, channel=DELETE)),
    ("pong: wrong op", "pong.json", with_(PONG, op="ping")),
    ("event frame: missing event", "event.json", with_(EVENT_FRAME, event=DELETE)),
    ("event frame: event without date", "event.json", with_(EVENT_FRAME, event__date=DELETE)),
    ("event frame: event without payload", "event.json", with_(EVENT_FRAME, event__payload=DELETE)),
    ("event frame: offset 0", "event.json", with_(EVENT_FRAME, offset=0)),
    ("event frame: bad channel", "event.json", with_(EVENT_FRAME, channel="a b")),
    ("error: bad code", "error.json", with_(ERROR, code="nope")),
    ("error: client-only code", "error.json", with_(ERROR, code="timeout")),
    ("error: missing message", "error.json", with_(ERROR, message=DELETE)),
    ("error: missing code", "error.json", with_(ERROR, code=DELETE)),
    ("server frame: unknown op", "server-frame.json", {"op": "record.watched", "channel": "c", "record": "1"}),
    ("server frame: presence.snapshot without members", "server-frame.json", with_(PRESENCE_SNAPSHOT, members=DELETE)),
    ("server frame: a presence command", "server-frame.json", PRESENCE_ENTER),
    ("server frame: a client command", "server-frame.json", SUBSCRIBE),
    ("server frame: error with bad code", "server-frame.json", with_(ERROR, code="Forbidden")),
    # HTTP
    ("publish request: 1001 events", "publish-request.json", _events(1001)),
    ("publish request: 1001 wrapped events", "publish-request.json", {"events": _events(1001)}),
    ("publish request: a number", "publish-request.json", 42),
    ("publish request: a string", "publish-request.json", "resources/posts"),
    ("publish request: array holding a number", "publish-request.json", [EVENT, 1]),
    ("publish request: array holding an invalid event", "publish-request.json", [EVENT, with_(EVENT, type="")]),
    ("publish request: wrapped invalid event", "publish-request.json", {"events": [with_(EVENT, channel="a b")]}),
    ("publish request: events is not an array", "publish-request.json", {"events": {"channel": "c", "type": "t"}}),
    ("publish response: missing results", "publish-response.json", {}),
    ("publish response: result without offset", "publish-response.json", {"results": [{"channel": "c"}]}),
    ("error response: bad code", "error-response.json", with_(ERROR_RESPONSE, error__code="nope")),
    ("error response: missing message", "error-response.json", with_(ERROR_RESPONSE, error__message=DELETE)),
    ("error response: flat", "error-response.json", {"code": "unauthorized", "message": "missing or invalid API key"}),
    ("healthz: other status", "healthz-response.json", with_(HEALTHZ, status="down")),
    ("reconnect: negative", "reconnect.json", {"op": "reconnect", "afterMs": -1}),
    ("reconnect: missing afterMs", "reconnect.json", {"op": "reconnect"}),
    ("history response: missing events", "history-response.json", {"channel": "c", "epoch": "e", "offset": 1}),
    ("history response: an event that is not a frame", "history-response.json",
     {"channel": "c", "epoch": "e", "offset": 1, "events": [{"channel": "c", "type": "t"}]}),
    ("healthz: negative connections", "healthz-response.json", with_(HEALTHZ, connections=-1)),
    ("healthz: missing epoch", "healthz-response.json", with_(HEALTHZ, epoch=DELETE)),
    ("healthz: missing version", "healthz-response.json", with_(HEALTHZ, version=DELETE)),
    ("readyz: ready as a string", "readyz-response.json", with_(READYZ, ready="no")),
    ("readyz: an unknown field", "readyz-response.json", with_(READYZ, extra=1)),
    # presence and typing: shared shapes
    ("member: negative connections", "presence-member.json", with_(MEMBER, connections=-1)),
    ("member: fractional connections", "presence-member.json", with_(MEMBER, connections=1.5)),
    ("member: missing info", "presence-member.json", with_(MEMBER, info=DELETE)),
    ("member: missing user", "presence-member.json", with_(MEMBER, user=DELETE)),
    ("member: empty user", "presence-member.json", with_(MEMBER, user="")),
    ("member: numeric user", "presence-member.json", with_(MEMBER, user=42)),
    ("typist: missing scope (null when none)", "typist.json", with_(TYPIST, scope=DELETE)),
    ("typist: missing name", "typist.json", with_(TYPIST, name=DELETE)),
    ("typist: 65-char scope", "typist.json", with_(TYPIST, scope="s" * 65)),
    ("typist: numeric name", "typist.json", with_(TYPIST, name=1)),
    # presence and typing: commands
    ("presence.enter: missing channel", "presence.enter.json", with_(PRESENCE_ENTER, channel=DELETE)),
    ("presence.enter: channel with *", "presence.enter.json", with_(PRESENCE_ENTER, channel="presence/*")),
    ("presence.enter: 65-char id", "presence.enter.json", with_(PRESENCE_ENTER, id="i" * 65)),
    ("presence.enter: wrong op", "presence.enter.json", with_(PRESENCE_ENTER, op="presence.update")),
    ("presence.update: missing info", "presence.update.json", with_(PRESENCE_UPDATE, info=DELETE)),
    ("presence.update: missing channel", "presence.update.json", with_(PRESENCE_UPDATE, channel=DELETE)),
    ("presence.leave: missing channel", "presence.leave.json", with_(PRESENCE_LEAVE, channel=DELETE)),
    ("presence.leave: numeric channel", "presence.leave.json", with_(PRESENCE_LEAVE, channel=1)),
    ("presence.subscribe: empty channel", "presence.subscribe.json", with_(PRESENCE_SUBSCRIBE, channel="")),
    ("presence.subscribe: boolean id", "presence.subscribe.json", with_(PRESENCE_SUBSCRIBE, id=True)),
    ("presence.unsubscribe: missing channel", "presence.unsubscribe.json", with_(PRESENCE_UNSUBSCRIBE, channel=DELETE)),
    ("typing.start: 65-byte scope", "typing.start.json", with_(TYPING_START, scope="s" * 65)),
    ("typing.start: empty scope", "typing.start.json", with_(TYPING_START, scope="")),
    ("typing.start: numeric scope", "typing.start.json", with_(TYPING_START, scope=1)),
    ("typing.start: missing channel", "typing.start.json", with_(TYPING_START, channel=DELETE)),
    ("typing.stop: 65-byte scope", "typing.stop.json", with_(TYPING_STOP, scope="s" * 65)),
    ("typing.stop: channel with a space", "typing.stop.json", with_(TYPING_STOP, channel="comments posts")),
    ("typing.subscribe: missing channel", "typing.subscribe.json", with_(TYPING_SUBSCRIBE, channel=DELETE)),
    ("typing.unsubscribe: 201-byte channel", "typing.unsubscribe.json", with_(TYPING_UNSUBSCRIBE, channel="c" * 201)),
    ("client frame: typing.start with a 65-byte scope", "client-frame.json", with_(TYPING_START, scope="s" * 65)),
    # presence and typing: replies and pushes
    ("presence.entered: missing channel", "presence.entered.json", with_(PRESENCE_ENTERED, channel=DELETE)),
    ("presence.updated: wrong op", "presence.updated.json", with_(PRESENCE_UPDATED, op="presence.update")),
    ("presence.left: missing channel", "presence.left.json", with_(PRESENCE_LEFT, channel=DELETE)),
    ("presence.snapshot: missing total", "presence.snapshot.json", with_(PRESENCE_SNAPSHOT, total=DELETE)),
    ("presence.snapshot: negative total", "presence.snapshot.json", with_(PRESENCE_SNAPSHOT, total=-1)),
    ("presence.snapshot: members is an object", "presence.snapshot.json", with_(PRESENCE_SNAPSHOT, members=MEMBER)),
    ("presence.snapshot: member with 0 connections", "presence.snapshot.json",
     with_(PRESENCE_SNAPSHOT, members=[with_(MEMBER, connections=0)])),
    ("presence.snapshot: member with negative connections", "presence.snapshot.json",
     with_(PRESENCE_SNAPSHOT, members=[with_(MEMBER, connections=-1)])),
    ("presence.unsubscribed: missing channel", "presence.unsubscribed.json", with_(PRESENCE_UNSUBSCRIBED, channel=DELETE)),
    ("presence.event: unknown action", "presence.event.json", with_(PRESENCE_EVENT, action="joined")),
    ("presence.event: missing action", "presence.event.json", with_(PRESENCE_EVENT, action=DELETE)),
    ("presence.event: missing member", "presence.event.json", with_(PRESENCE_EVENT, member=DELETE)),
    ("presence.event: member with negative connections", "presence.event.json",
     with_(PRESENCE_EVENT, action="update", member__connections=-1)),
    ("presence.event: leave with connections left", "presence.event.json",
     with_(PRESENCE_EVENT, action="leave", member__connections=1)),
    ("presence.event: join with 0 connections", "presence.event.json", with_(PRESENCE_EVENT, member__connections=0)),
    ("presence.event: join with 2 connections (join is the first session)", "presence.event.json",
     with_(PRESENCE_EVENT, member__connections=2)),
    ("presence.event: update with 0 connections", "presence.event.json",
     with_(PRESENCE_EVENT, action="update", member__connections=0)),
    ("typing.ok: missing id", "typing.ok.json", with_(TYPING_OK, id=DELETE)),
    ("typing.ok: object id", "typing.ok.json", with_(TYPING_OK, id={"a": 1})),
    ("typing.snapshot: missing typing", "typing.snapshot.json", with_(TYPING_SNAPSHOT, typing=DELETE)),
    ("typing.snapshot: typist without user", "typing.snapshot.json", with_(TYPING_SNAPSHOT, typing=[with_(TYPIST, user=DELETE)])),
    ("typing.unsubscribed: missing channel", "typing.unsubscribed.json", with_(TYPING_UNSUBSCRIBED, channel=DELETE)),
    ("typing.event: unknown action", "typing.event.json", with_(TYPING_EVENT, action="typing")),
    ("typing.event: missing typist", "typing.event.json", with_(TYPING_EVENT, typist=DELETE)),
    ("typing.event: typist with a 65-char scope", "typing.event.json", with_(TYPING_EVENT, typist__scope="s" * 65)),
    ("server frame: presence.event with an unknown action", "server-frame.json", with_(PRESENCE_EVENT, action="joined")),
    ("error: unknown code near a new one", "error.json", with_(ERROR, code="rate_limit")),
    # presence: HTTP
    ("presence list response: missing members", "presence-list-response.json", with_(PRESENCE_LIST, members=DELETE)),
    ("presence list response: member with 0 connections", "presence-list-response.json",
     with_(PRESENCE_LIST, members=[with_(MEMBER, connections=0)])),
    ("presence list response: bad channel", "presence-list-response.json", with_(PRESENCE_LIST, channel="presence/*")),
    ("presence count response: missing total", "presence-count-response.json", with_(PRESENCE_COUNT, total=DELETE)),
    ("presence count response: string total", "presence-count-response.json", with_(PRESENCE_COUNT, total="1")),
    ("presence count response: with a member list", "presence-count-response.json", PRESENCE_LIST),
    ("presence POST request: ttlMs 0", "presence-post-request.json", with_(PRESENCE_POST, ttlMs=0)),
    ("presence POST request: ttlMs over 86,400,000", "presence-post-request.json", with_(PRESENCE_POST, ttlMs=86_400_001)),
    ("presence POST request: negative ttlMs", "presence-post-request.json", with_(PRESENCE_POST, ttlMs=-1)),
    ("presence POST request: fractional ttlMs", "presence-post-request.json", with_(PRESENCE_POST, ttlMs=1.5)),
    ("presence POST request: string ttlMs", "presence-post-request.json", with_(PRESENCE_POST, ttlMs="30000")),
    ("presence POST request: missing user", "presence-post-request.json", with_(PRESENCE_POST, user=DELETE)),
    ("presence POST request: empty user", "presence-post-request.json", with_(PRESENCE_POST, user="")),
    ("presence POST request: an array", "presence-post-request.json", [PRESENCE_POST]),
    ("presence POST response: missing ttlMs", "presence-post-response.json", with_(PRESENCE_POSTED, ttlMs=DELETE)),
    ("presence POST response: ttlMs 0", "presence-post-response.json", with_(PRESENCE_POSTED, ttlMs=0)),
    ("presence DELETE response: missing removed", "presence-delete-response.json", with_(PRESENCE_DELETED, removed=DELETE)),
    ("presence DELETE response: removed as a string", "presence-delete-response.json", with_(PRESENCE_DELETED, removed="true")),
    # records: shared shapes
    ("version: negative counter", "version-vector.json", {"alice": -1}),
    ("version: fractional counter", "version-vector.json", {"alice": 1.5}),
    ("version: string counter", "version-vector.json", {"alice": "1"}),
    ("version: boolean counter", "version-vector.json", {"alice": True}),
    ("version: null counter", "version-vector.json", {"alice": None}),
    ("version: counter over 2^53", "version-vector.json", {"alice": 2**53 + 1}),
    ("version: empty actor", "version-vector.json", {"": 1}),
    ("version: 201-char actor", "version-vector.json", {"a" * 201: 1}),
    ("version: an array", "version-vector.json", [["alice", 1]]),
    ("dot: counter 0", "dot.json", with_(DOT, counter=0)),
    ("dot: negative counter", "dot.json", with_(DOT, counter=-1)),
    ("dot: missing actor", "dot.json", with_(DOT, actor=DELETE)),
    ("dot: missing counter", "dot.json", with_(DOT, counter=DELETE)),
    ("field change: missing field", "field-change.json", with_(CHANGE, field=DELETE)),
    ("field change: missing at", "field-change.json", with_(CHANGE, at=DELETE)),
    ("field change: missing actor", "field-change.json", with_(CHANGE, actor=DELETE)),
    ("field change: empty field", "field-change.json", with_(CHANGE, field="")),
    ("field change: 101-char field", "field-change.json", with_(CHANGE, field="f" * 101)),
    ("field change: numeric at", "field-change.json", with_(CHANGE, at=1763805600000)),
    ("field change: at is not ISO 8601", "field-change.json", with_(CHANGE, at="yesterday")),
    ("field change: at with a newline at the end", "field-change.json", with_(CHANGE, at="2026-11-22T10:00:00.000Z\n")),
    ("commit fields: empty object", "commit-fields.json", {}),
    ("commit fields: empty array", "commit-fields.json", []),
    ("commit fields: 101 values", "commit-fields.json", {f"f{i}": i for i in range(101)}),
    ("commit fields: 101 names", "commit-fields.json", [f"f{i}" for i in range(101)]),
    ("commit fields: 101-char name", "commit-fields.json", {"f" * 101: 1}),
    ("commit fields: empty name", "commit-fields.json", {"": 1}),
    ("commit fields: numeric name", "commit-fields.json", [1]),
    ("commit fields: a string", "commit-fields.json", "title"),
    # records: commands
    ("record.get: missing record", "record.get.json", with_(RECORD_GET, record=DELETE)),
    ("record.get: empty record", "record.get.json", with_(RECORD_GET, record="")),
    ("record.get: 201-char record", "record.get.json", with_(RECORD_GET, record="r" * 201)),
    ("record.get: boolean record", "record.get.json", with_(RECORD_GET, record=True)),
    ("record.get: null record", "record.get.json", with_(RECORD_GET, record=None)),
    ("record.get: array record", "record.get.json", with_(RECORD_GET, record=[1])),
    ("record.get: missing channel", "record.get.json", with_(RECORD_GET, channel=DELETE)),
    ("record.get: channel with *", "record.get.json", with_(RECORD_GET, channel="resources/*")),
    ("record.edit: missing version", "record.edit.json", with_(RECORD_EDIT, version=DELETE)),
    ("record.edit: negative counter", "record.edit.json", with_(RECORD_EDIT, version={"server": -1})),
    ("record.edit: version is an array", "record.edit.json", with_(RECORD_EDIT, version=[])),
    ("record.edit: 65-char id", "record.edit.json", with_(RECORD_EDIT, id="i" * 65)),
    ("record.stop: missing record", "record.stop.json", with_(RECORD_STOP, record=DELETE)),
    ("record.stop: wrong op", "record.stop.json", with_(RECORD_STOP, op="record.stopped")),
    ("record.commit: 101 fields", "record.commit.json", with_(RECORD_COMMIT, fields={f"f{i}": None for i in range(101)})),
    ("record.commit: empty fields object", "record.commit.json", with_(RECORD_COMMIT, fields={})),
    ("record.commit: empty fields array", "record.commit.json", with_(RECORD_COMMIT, fields=[])),
    ("record.commit: fields is a string", "record.commit.json", with_(RECORD_COMMIT, fields="title")),
    ("record.commit: 101-char field name", "record.commit.json", with_(RECORD_COMMIT, fields={"f" * 101: 1})),
    ("record.commit: negative counter", "record.commit.json", with_(RECORD_COMMIT, version={"server": -1})),
    ("record.commit: fractional counter", "record.commit.json", with_(RECORD_COMMIT, version={"server": 0.5})),
    ("record.commit: missing version", "record.commit.json", with_(RECORD_COMMIT, version=DELETE)),
    ("record.commit: missing record", "record.commit.json", with_(RECORD_COMMIT, record=DELETE)),
    ("record.delete: missing version", "record.delete.json", with_(RECORD_DELETE, version=DELETE)),
    ("record.delete: empty record", "record.delete.json", with_(RECORD_DELETE, record="")),
    ("client frame: record.commit with 101 fields", "client-frame.json",
     with_(RECORD_COMMIT, fields=[f"f{i}" for i in range(101)])),
    ("client frame: record.edit without record", "client-frame.json", with_(RECORD_EDIT, record=DELETE)),
    ("client frame: a record reply", "client-frame.json", RECORD_EDITING),
    # records: replies and pushes
    ("record.state: missing version", "record.state.json", with_(RECORD_STATE, version=DELETE)),
    ("record.state: missing fields", "record.state.json", with_(RECORD_STATE, fields=DELETE)),
    ("record.state: numeric record (replies send strings)", "record.state.json", with_(RECORD_STATE, record=1)),
    ("record.state: deleted without deletedBy", "record.state.json", with_(RECORD_STATE, deleted=True)),
    ("record.state: deletedBy on a live record", "record.state.json", with_(RECORD_STATE, deletedBy=DELETED_BY)),
    ("record.state: deletedBy without at", "record.state.json",
     with_(RECORD_STATE, deleted=True, deletedBy={"actor": "bob"})),
    ("record.state: field write with counter 0", "record.state.json", with_(RECORD_STATE, fields__title__counter=0)),
    ("record.state: field write without at", "record.state.json", with_(RECORD_STATE, fields__title__at=DELETE)),
    ("record.state: fields is an array", "record.state.json", with_(RECORD_STATE, fields=[WRITE])),
    ("record.state: deleted as a string", "record.state.json", with_(RECORD_STATE, deleted="false")),
    ("record.state: missing op", "record.state.json", with_(RECORD_STATE, op=DELETE)),
    ("record.editing: missing record", "record.editing.json", with_(RECORD_EDITING, record=DELETE)),
    ("record.editing: numeric record", "record.editing.json", with_(RECORD_EDITING, record=1)),
    ("record.stopped: missing channel", "record.stopped.json", with_(RECORD_STOPPED, channel=DELETE)),
    ("record.committed: missing dot", "record.committed.json", with_(RECORD_COMMITTED, dot=DELETE)),
    ("record.committed: dot with counter 0", "record.committed.json", with_(RECORD_COMMITTED, dot__counter=0)),
    ("record.committed: missing deleted", "record.committed.json", with_(RECORD_COMMITTED, deleted=DELETE)),
    ("record.committed: deletion naming fields", "record.committed.json", with_(RECORD_COMMITTED, deleted=True)),
    ("record.committed: a field twice", "record.committed.json", with_(RECORD_COMMITTED, fields=["title", "title"])),
    ("record.conflict: kind other than fields/deleted", "record.conflict.json", with_(RECORD_CONFLICT, kind="stale")),
    ("record.conflict: missing kind", "record.conflict.json", with_(RECORD_CONFLICT, kind=DELETE)),
    ("record.conflict: fields kind without conflicts", "record.conflict.json", with_(RECORD_CONFLICT, conflicts=[])),
    ("record.conflict: fields kind with deletedBy", "record.conflict.json", with_(RECORD_CONFLICT, deletedBy=DELETED_BY)),
    ("record.conflict: deleted kind without deletedBy", "record.conflict.json",
     with_(RECORD_CONFLICT, kind="deleted", conflicts=[])),
    ("record.conflict: deleted kind with conflicts", "record.conflict.json",
     with_(RECORD_CONFLICT, kind="deleted", deletedBy=DELETED_BY)),
    ("record.conflict: missing version", "record.conflict.json", with_(RECORD_CONFLICT, version=DELETE)),
    ("record.conflict: conflict without actor", "record.conflict.json",
     with_(RECORD_CONFLICT, conflicts=[with_(CHANGE, actor=DELETE)])),
    ("record.stale: without by", "record.stale.json", with_(RECORD_STALE, by=DELETE)),
    ("record.stale: by the floor actor", "record.stale.json", with_(RECORD_STALE, by="~")),
    ("record.stale: missing changes", "record.stale.json", with_(RECORD_STALE, changes=DELETE)),
    ("record.stale: missing deleted", "record.stale.json", with_(RECORD_STALE, deleted=DELETE)),
    ("record.stale: change without field", "record.stale.json", with_(RECORD_STALE, changes=[with_(CHANGE, field=DELETE)])),
    ("record.stale: negative counter", "record.stale.json", with_(RECORD_STALE, version={"bob": -1})),
    ("server frame: record.stale without by", "server-frame.json", with_(RECORD_STALE, by=DELETE)),
    ("server frame: record.conflict of another kind", "server-frame.json", with_(RECORD_CONFLICT, kind="field")),
    ("server frame: a record command", "server-frame.json", RECORD_GET),
    ("error: unavailable misspelt", "error.json", with_(ERROR, code="unavailible")),
    # records: HTTP
    ("record state response: missing fields", "record-state-response.json", with_(RECORD_STATE_BODY, fields=DELETE)),
    ("record state response: deleted without deletedBy", "record-state-response.json", with_(RECORD_STATE_BODY, deleted=True)),
    ("record state response: bad channel", "record-state-response.json", with_(RECORD_STATE_BODY, channel="a b")),
    ("commit request: missing record", "record-commit-request.json", with_(COMMIT_REQUEST, record=DELETE)),
    ("commit request: missing version", "record-commit-request.json", with_(COMMIT_REQUEST, version=DELETE)),
    ("commit request: actor starting with ~", "record-commit-request.json", with_(COMMIT_REQUEST, actor="~")),
    ("commit request: empty actor", "record-commit-request.json", with_(COMMIT_REQUEST, actor="")),
    ("commit request: numeric actor", "record-commit-request.json", with_(COMMIT_REQUEST, actor=1)),
    ("commit request: dryRun as a string", "record-commit-request.json", with_(COMMIT_REQUEST, dryRun="true")),
    ("commit request: 101 fields", "record-commit-request.json", with_(COMMIT_REQUEST, fields=[f"f{i}" for i in range(101)])),
    ("commit request: empty fields object", "record-commit-request.json", with_(COMMIT_REQUEST, fields={})),
    ("commit request: negative counter", "record-commit-request.json", with_(COMMIT_REQUEST, version={"server": -1})),
    ("commit request: an array", "record-commit-request.json", [COMMIT_REQUEST]),
    ("commit response: missing dot", "record-commit-response.json", with_(COMMIT_RESPONSE, dot=DELETE)),
    ("commit response: numeric record", "record-commit-response.json", with_(COMMIT_RESPONSE, record=1)),
    ("commit response: deletion naming fields", "record-commit-response.json", with_(COMMIT_RESPONSE, deleted=True)),
    ("conflict response: kind other than fields/deleted", "record-conflict-response.json", with_(CONFLICT_RESPONSE, kind="version")),
    ("conflict response: missing conflicts", "record-conflict-response.json", with_(CONFLICT_RESPONSE, conflicts=DELETE)),
    ("conflict response: deleted without deletedBy", "record-conflict-response.json",
     with_(CONFLICT_RESPONSE, kind="deleted", conflicts=[])),
    ("delete request: missing version", "record-delete-request.json", with_(DELETE_REQUEST, version=DELETE)),
    ("delete request: actor starting with ~", "record-delete-request.json", with_(DELETE_REQUEST, actor="~alice")),
    ("delete request: bad channel", "record-delete-request.json", with_(DELETE_REQUEST, channel="")),
    # user ids (development mode: 1 to 200 bytes, not starting with ~)
    ("welcome: user starting with ~", "welcome.json", with_(WELCOME, user="~alice")),
    ("welcome: 201-char user", "welcome.json", with_(WELCOME, user="u" * 201)),
    ("member: user ~", "presence-member.json", with_(MEMBER, user="~")),
    ("typist: user starting with ~", "typist.json", with_(TYPIST, user="~1")),
    # tokens
    ("welcome: missing expiresAt", "welcome.json", with_(WELCOME, expiresAt=DELETE)),
    ("welcome: expiresAt in seconds as a string", "welcome.json", with_(WELCOME, expiresAt="1790000000")),
    ("welcome: fractional expiresAt", "welcome.json", with_(WELCOME, expiresAt=1790000000000.5)),
    ("auth: missing token", "auth.json", with_(AUTH, token=DELETE)),
    ("auth: empty token", "auth.json", with_(AUTH, token="")),
    ("auth: token is an object", "auth.json", with_(AUTH, token={"sub": "alice"})),
    ("auth: wrong op", "auth.json", with_(AUTH, op="authed")),
    ("client frame: auth without token", "client-frame.json", with_(AUTH, token=DELETE)),
    ("client frame: authed (a reply)", "client-frame.json", AUTHED),
    ("authed: missing user", "authed.json", with_(AUTHED, user=DELETE)),
    ("authed: null expiresAt", "authed.json", with_(AUTHED, expiresAt=None)),
    ("authed: user starting with ~", "authed.json", with_(AUTHED, user="~alice")),
    ("token.expiring: missing expiresAt", "token.expiring.json", with_(TOKEN_EXPIRING, expiresAt=DELETE)),
    ("token.expiring: negative expiresAt", "token.expiring.json", with_(TOKEN_EXPIRING, expiresAt=-1)),
    ("token.expiring: ISO date", "token.expiring.json", with_(TOKEN_EXPIRING, expiresAt="2026-11-22T10:00:00.000Z")),
    ("server frame: auth (a command)", "server-frame.json", AUTH),
    ("server frame: token.expiring without expiresAt", "server-frame.json", with_(TOKEN_EXPIRING, expiresAt=DELETE)),
    ("error: too many connections misspelt", "error.json", with_(ERROR, code="too_many_connection")),
    ("claims: missing sub", "token-claims.json", with_(CLAIMS, sub=DELETE)),
    ("claims: missing exp", "token-claims.json", with_(CLAIMS, exp=DELETE)),
    ("claims: exp as a string", "token-claims.json", with_(CLAIMS, exp="1790000000")),
    ("claims: exp in milliseconds past 2^40", "token-claims.json", with_(CLAIMS, exp=2**40)),
    ("claims: negative exp", "token-claims.json", with_(CLAIMS, exp=-1)),
    ("claims: nbf as a string", "token-claims.json", with_(CLAIMS, nbf="0")),
    ("claims: sub starting with ~", "token-claims.json", with_(CLAIMS, sub="~alice")),
    ("claims: empty sub", "token-claims.json", with_(CLAIMS, sub="")),
    ("claims: numeric sub", "token-claims.json", with_(CLAIMS, sub=42)),
    ("claims: 201-char name", "token-claims.json", with_(CLAIMS, name="n" * 201)),
    ("claims: info is a string", "token-claims.json", with_(CLAIMS, info="red")),
    ("claims: caps is a list", "token-claims.json", with_(CLAIMS, caps=[["resources/*", "subscribe"]])),
    ("claims: unknown capability", "token-claims.json", with_(CLAIMS, caps={"resources/*": ["read"]})),
    ("claims: capability not in a list", "token-claims.json", with_(CLAIMS, caps={"resources/*": "subscribe"})),
    ("claims: * inside a pattern", "token-claims.json", with_(CLAIMS, caps={"resources/*/1": ["subscribe"]})),
    ("claims: ** pattern", "token-claims.json", with_(CLAIMS, caps={"**": ["subscribe"]})),
    ("claims: empty pattern", "token-claims.json", with_(CLAIMS, caps={"": ["subscribe"]})),
    ("claims: pattern with a space", "token-claims.json", with_(CLAIMS, caps={"chat/room 1": ["subscribe"]})),
    ("claims: 101 patterns", "token-claims.json", with_(CLAIMS, caps={f"c{i}": ["subscribe"] for i in range(101)})),
    ("claims: aud is a number", "token-claims.json", with_(CLAIMS, aud=1)),
    ("claims: not an object", "token-claims.json", "alice"),
]


@pytest.mark.parametrize("label,name,instance", VALID, ids=[v[0] for v in VALID])
def test_accepts(label, name, instance):
    assert not errors(name, instance), errors(name, instance)


@pytest.mark.parametrize("label,name,instance", INVALID, ids=[v[0] for v in INVALID])
def test_rejects(label, name, instance):
    assert errors(name, instance), f"{name} accepted {label}: {json.dumps(instance)[:300]}"


def test_every_frame_schema_is_exercised_by_both_tables():
    for name in EXPECTED_SCHEMAS - {"common.json"}:
        assert any(v[1] == name for v in VALID), f"no VALID case for {name}"
        assert any(v[1] == name for v in INVALID), f"no INVALID case for {name}"
