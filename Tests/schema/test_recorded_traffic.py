"""Checks what the real server sent during the JavaScript integration tests against the schemas.

`make js-test` runs those tests with Tests/js/record-frames.mjs preloaded, which appends every text
frame a WebSocket received and every JSON body fetch() got back to artifacts/frames.jsonl (or the file
CONCORD_FRAME_LOG names). Each entry must validate against the schema of its op (frames) or of its
endpoint and status (HTTP bodies), so that a schema, or the server, cannot drift from the other.

Without the log this module is skipped, unless CONCORD_FRAME_LOG_REQUIRED=1 (as in `make test`).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from test_schemas import (
    RESPONSE_SCHEMAS,
    ROOT,
    SERVER_OPS,
    STATUS_RESPONSE_SCHEMAS,
    endpoint_schema,
    errors,
)

LOG = Path(os.environ.get("CONCORD_FRAME_LOG", ROOT / "artifacts" / "frames.jsonl"))

# Server frames the JavaScript tests do not provoke, each with the reason; every other op of
# SERVER_OPS must appear in the log at least once.
NOT_RECORDED = {}


def _entries() -> list[dict]:
    if not LOG.exists():
        if os.environ.get("CONCORD_FRAME_LOG_REQUIRED") == "1":
            pytest.fail(f"{LOG} is missing: run the JavaScript tests first (make js-test)")
        pytest.skip(f"{LOG} is missing: run make js-test first to record the server's traffic")
    return [json.loads(line) for line in LOG.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def entries() -> list[dict]:
    return _entries()


def _schema_for(entry: dict) -> tuple[str | None, object]:
    """The schema an entry must validate against, and the document."""
    document = json.loads(entry["text"])
    if entry["kind"] == "frame":
        return SERVER_OPS.get(document.get("op")), document
    endpoint = f"{entry['method']} {entry['path']}"
    status = entry["status"]
    if status == 200:
        return endpoint_schema(RESPONSE_SCHEMAS, endpoint), document
    if status in STATUS_RESPONSE_SCHEMAS:
        name = endpoint_schema(STATUS_RESPONSE_SCHEMAS[status], endpoint)
        if name:
            return name, document
    if status >= 400:
        return "error-response.json", document
    return None, document


def test_the_log_holds_traffic(entries):
    assert len(entries) > 100, f"only {len(entries)} entries in {LOG}"


def test_every_recorded_frame_and_body_validates(entries):
    failures = []
    unmatched = Counter()
    for entry in entries:
        name, document = _schema_for(entry)
        where = entry.get("path", "")
        if name is None:
            unmatched[f"{entry['kind']} {entry.get('method', '')} {where} {entry.get('status', '')}".strip()] += 1
            continue
        for problem in errors(name, document):
            failures.append(f"{name} ({where}): {problem}\n    {entry['text'][:300]}")
    assert not unmatched, f"traffic with no schema: {dict(unmatched)}"
    assert not failures, f"{len(failures)} recorded documents break their schema:\n" + "\n".join(failures[:20])


def test_every_server_frame_kind_was_seen(entries):
    seen = {json.loads(e["text"]).get("op") for e in entries if e["kind"] == "frame"}
    missing = set(SERVER_OPS) - seen - set(NOT_RECORDED)
    assert not missing, f"server frames the JavaScript tests never received (add a test, or a reason to NOT_RECORDED): {sorted(missing)}"


def test_every_http_response_schema_was_seen(entries):
    seen = set()
    for entry in entries:
        if entry["kind"] == "http":
            name, _ = _schema_for(entry)
            seen.add(name)
    expected = set(RESPONSE_SCHEMAS.values()) | {n for table in STATUS_RESPONSE_SCHEMAS.values() for n in table.values()}
    assert not expected - seen, f"HTTP bodies the JavaScript tests never received: {sorted(expected - seen)}"
