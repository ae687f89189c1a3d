"""protocol/openapi.json: up to date with scripts/build-openapi.py, valid OpenAPI 3.1, naming the same
endpoints as protocol/README.md, and true of the real server: every answer below has a status the
operation documents and a body its schema accepts.

The real server is the `concord` binary (CONCORD_BIN, else .build/debug/concord), started on an
ephemeral loopback port with an API key, an HS256 secret (so tokens are checked) and anonymous
connections allowed, and stopped at the end.
"""

from __future__ import annotations

import base64
import http.client
import importlib.util
import json
import os
import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from test_schemas import README_TEXT, ROOT

SPEC_PATH = ROOT / "protocol" / "openapi.json"
SPEC = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
SPEC_URI = "urn:concord:openapi"
REGISTRY = Registry().with_resource(SPEC_URI, DRAFT202012.create_resource(SPEC))
BINARY = Path(os.environ.get("CONCORD_BIN", ROOT / ".build" / "debug" / "concord"))
API_KEY = "openapi-test-key"


def _builder():
    spec = importlib.util.spec_from_file_location("build_openapi", ROOT / "scripts" / "build-openapi.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_document_is_what_the_script_writes():
    assert SPEC_PATH.read_text(encoding="utf-8") == _builder().render(), "run python3 scripts/build-openapi.py"


def test_the_document_is_valid_openapi_3_1():
    assert SPEC["openapi"].startswith("3.1")
    validate_openapi(SPEC)


def test_the_document_and_the_readme_name_the_same_endpoints():
    section = README_TEXT[README_TEXT.index("## HTTP API"):]
    section = section[:section.index("\n## ", 4)]
    readme = set()
    for method, path in re.findall(r"^### (GET|POST|DELETE|PUT|PATCH) (\S+)", section, flags=re.M):
        readme.add((method.lower(), urlsplit(path).path))
    documented = {(method, path) for path, item in SPEC["paths"].items() for method in item if method != "parameters"}
    assert readme == documented


# MARK: the real server

@pytest.fixture(scope="module")
def server():
    if not BINARY.exists():
        pytest.fail(f"{BINARY} is missing: build it (swift build --product concord) or set CONCORD_BIN")
    env = dict(os.environ, CONCORD_JWT_SECRET="s" * 40)
    process = subprocess.Popen(
        [str(BINARY), "serve", "--port", "0", "--memory", "--api-key", API_KEY, "--allow-anonymous",
         "--public-subscribe", "*", "--allowed-origin", "https://app.example.com", "--max-body-bytes", "4096",
         "--log-level", "warning"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    line = process.stdout.readline()
    match = re.search(r"127\.0\.0\.1:(\d+)", line)
    if not match:
        process.kill()
        pytest.fail(f"the server did not start: {line!r}")
    yield int(match.group(1))
    process.terminate()
    process.wait(timeout=10)


def operation(method: str, path: str) -> tuple[str, dict | None]:
    """The documented path for a request (the presence channel may hold slashes), and the operation
    for its method: None when the path does not document the method (the server answers 405)."""
    route = urlsplit(path).path
    for template, item in SPEC["paths"].items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", ".+", re.escape(template)) + "$"
        if re.match(pattern, route):
            return template, item.get(method.lower())
    raise AssertionError(f"no path documents {route}")


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def response_spec(op: dict, status: int, pointer: str) -> tuple[dict, str]:
    """The documented response for the status, and its JSON pointer within the document."""
    entry = op["responses"].get(str(status))
    assert entry is not None, f"status {status} is not documented for {op['operationId']} ({sorted(op['responses'])})"
    pointer = f"{pointer}/responses/{status}"
    if "$ref" in entry:
        pointer = entry["$ref"][1:]
        entry = SPEC["components"]["responses"][entry["$ref"].rsplit("/", 1)[1]]
    return entry, pointer


def send(port: int, method: str, path: str, body=None, headers=None, key: str | None = API_KEY):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    all_headers = dict(headers or {})
    if key is not None:
        all_headers.setdefault("Authorization", f"Bearer {key}")
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
        all_headers.setdefault("Content-Type", "application/json")
    connection.request(method, path, body=body, headers=all_headers)
    response = connection.getresponse()
    data = response.read() if response.status != 101 else b""
    connection.close()
    return response.status, response.getheader("Content-Type", ""), data


def upgrade(extra: dict | None = None) -> dict:
    key = base64.b64encode(os.urandom(16)).decode()
    return {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": key,
            "Sec-WebSocket-Version": "13", **(extra or {})}


COMMIT = {"channel": "resources/posts", "record": 1, "version": {}, "fields": {"title": "Hi"}, "actor": "server"}

# (method, path, body, headers, key, expected status). Each answer is checked against the document.
REQUESTS = [
    ("GET", "/healthz", None, None, None, 200),
    ("POST", "/healthz", b"", None, None, 405),
    ("GET", "/readyz", None, None, None, 200),
    ("GET", "/metrics", None, None, None, 200),
    ("GET", "/v1/client.js", None, None, None, 200),
    ("GET", "/v1/client/connection.js", None, None, None, 200),
    ("GET", "/v1/client/nope.js", None, None, None, 404),
    ("GET", "/v1/ws", None, None, None, 400),
    ("GET", "/v1/ws", None, upgrade(), None, 101),
    ("GET", "/v1/ws?token=not.a.token", None, upgrade(), None, 401),
    ("GET", "/v1/ws", None, upgrade({"Origin": "https://evil.example.com"}), None, 403),
    ("GET", "/v1/ws", None, upgrade({"Sec-WebSocket-Version": "12"}), None, 426),
    ("POST", "/v1/publish", {"channel": "resources/posts", "type": "updated", "payload": {"ids": [1]}}, None, API_KEY, 200),
    ("POST", "/v1/publish", {"events": [{"channel": "a", "type": "t"}, {"channel": "b", "type": "t"}]}, None, API_KEY, 200),
    ("POST", "/v1/publish", {"channel": "resources/posts", "type": "updated"}, None, "wrong", 401),
    ("POST", "/v1/publish", b'{"channel":', {"Content-Type": "application/json"}, API_KEY, 400),
    ("POST", "/v1/publish", b"{}", {"Content-Type": "text/plain"}, API_KEY, 415),
    ("POST", "/v1/publish", b'{"pad":"' + b"x" * 5000 + b'"}', {"Content-Type": "application/json"}, API_KEY, 413),
    ("GET", "/v1/publish", None, None, API_KEY, 405),
    ("GET", "/v1/history?channel=resources/posts", None, None, API_KEY, 200),
    ("GET", "/v1/sse", None, None, None, 400),
    ("GET", "/v1/sse?channel=resources/posts&lastEventId=nonsense", None, None, None, 400),
    ("GET", "/v1/history?channel=resources/posts&since=0&epoch=elsewhere&limit=1", None, None, API_KEY, 200),
    ("GET", "/v1/history?channel=resources/posts&since=1", None, None, API_KEY, 400),
    ("GET", "/v1/history?channel=resources/posts", None, None, None, 401),
    ("POST", "/v1/presence/presence/posts/1", {"user": "dave", "info": {"name": "Dave"}, "ttlMs": 30000}, None, API_KEY, 200),
    ("GET", "/v1/presence/presence/posts/1", None, None, API_KEY, 200),
    ("GET", "/v1/presence/presence%2Fposts%2F1?count=1", None, None, API_KEY, 200),
    ("GET", "/v1/presence/presence/posts/1?limit=-1", None, None, API_KEY, 400),
    ("GET", "/v1/presence/presence/posts/1", None, None, None, 401),
    ("POST", "/v1/presence/presence/posts/1", {"user": "dave", "ttlMs": 0}, None, API_KEY, 400),
    ("DELETE", "/v1/presence/presence/posts/1?user=dave", None, None, API_KEY, 200),
    ("DELETE", "/v1/presence/presence/posts/1", None, None, API_KEY, 400),
    ("POST", "/v1/records/commit", COMMIT, None, API_KEY, 200),
    ("POST", "/v1/records/commit", {**COMMIT, "actor": "alice"}, None, API_KEY, 409),
    ("POST", "/v1/records/commit", {**COMMIT, "version": {"server": 1}, "actor": "alice", "dryRun": True}, None, API_KEY, 200),
    ("POST", "/v1/records/commit", {**COMMIT, "version": {"nobody": 3}}, None, API_KEY, 400),
    ("GET", "/v1/records/commit", None, None, API_KEY, 405),
    ("GET", "/v1/records?channel=resources/posts&id=1", None, None, API_KEY, 200),
    ("GET", "/v1/records?channel=resources/posts", None, None, API_KEY, 400),
    ("POST", "/v1/records/delete", {"channel": "resources/posts", "record": 1, "version": {}}, None, API_KEY, 409),
    ("POST", "/v1/records/delete", {"channel": "resources/posts", "record": 1, "version": {"server": 1}}, None, API_KEY, 200),
]


def test_every_documented_operation_is_exercised():
    exercised = {op["operationId"] for method, path, *_ in REQUESTS if (op := operation(method, path)[1])}
    documented = {op["operationId"] for item in SPEC["paths"].values() for key, op in item.items() if key != "parameters"}
    assert documented == exercised


def test_the_real_server_answers_as_documented(server):
    failures = []
    for method, path, body, headers, key, expected in REQUESTS:
        status, content_type, data = send(server, method, path, body, headers, key)
        where = f"{method} {path} -> {status}"
        if status != expected:
            failures.append(f"{where}: expected {expected}")
            continue
        template, op = operation(method, path)
        pointer = f"/paths/{escape(template)}/{method.lower()}"
        if op is None:
            # A method the path does not document: 405 with the error body, as the document says.
            op = {"operationId": f"{method} {path}", "responses": {"405": {"$ref": "#/components/responses/Error405"}}}
        spec, pointer = response_spec(op, status, pointer)
        content = spec.get("content")
        if not content:
            continue
        media = content_type.split(";")[0].strip()
        if media not in content:
            failures.append(f"{where}: Content-Type {content_type!r}, documented {sorted(content)}")
            continue
        if media != "application/json":
            continue
        schema = {"$ref": f"{SPEC_URI}#{pointer}/content/{escape(media)}/schema"}
        validator = Draft202012Validator(schema, registry=REGISTRY)
        document = json.loads(data)
        for error in validator.iter_errors(document):
            failures.append(f"{where}: {'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}")
    assert not failures, "\n".join(failures)
