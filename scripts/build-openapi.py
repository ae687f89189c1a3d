#!/usr/bin/env python3
"""Writes protocol/openapi.json: the OpenAPI 3.1 description of Concord's HTTP API.

The operations are described here; the bodies are the protocol's JSON Schemas (protocol/schema/),
bundled into `components.schemas` with their references rewritten, so the document stands alone and
a client generator needs nothing else. Tests/schema/test_openapi.py checks that the committed file is
what this script writes, that it is valid OpenAPI 3.1, and that the real server answers as it says.

    python3 scripts/build-openapi.py          # rewrite protocol/openapi.json
    python3 scripts/build-openapi.py --check  # exit 1 when protocol/openapi.json is out of date
"""

from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_DIR = ROOT / "protocol" / "schema"
OUTPUT = ROOT / "protocol" / "openapi.json"
VERSION = "1.0.0"


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def json_body(schema: str, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": ref(schema)}}}


def errors(*statuses: int) -> dict:
    return {str(s): {"$ref": f"#/components/responses/Error{s}"} for s in statuses}


BEARER = [{"apiKey": []}]

CHANNEL_PATH = {
    "name": "channel", "in": "path", "required": True,
    "description": "The channel: the rest of the path, slashes included (`presence/posts/1`), or percent-encoded (`presence%2Fposts%2F1`): both name the same channel.",
    "schema": {"type": "string"},
}

PATHS = {
    "/healthz": {"get": {
        "operationId": "health", "summary": "Liveness: the server runs and answers.",
        "responses": {"200": json_body("healthz-response", "The server is up.")},
    }},
    "/readyz": {"get": {
        "operationId": "readiness",
        "summary": "Readiness: whether this node can serve everything now (503 while the Redis it shares is unreachable, or while it shuts down).",
        "responses": {"200": json_body("readyz-response", "Ready."),
                      "503": json_body("readyz-response", "Not ready, with the reason.")},
    }},
    "/metrics": {"get": {
        "operationId": "metrics", "summary": "Prometheus metrics (text exposition format 0.0.4).",
        "responses": {"200": {"description": "Counters and gauges; protocol/README.md lists them.",
                              "content": {"text/plain": {"schema": {"type": "string"}}}}},
    }},
    "/v1/client.js": {"get": {
        "operationId": "clientScript",
        "summary": "The reference JavaScript client, as an ES module: the entry, which imports its sibling modules from /v1/client/.",
        "responses": {"200": {"description": "The module.", "content": {"text/javascript": {"schema": {"type": "string"}}}}},
    }},
    "/v1/client/{module}": {"get": {
        "operationId": "clientModule",
        "summary": "A module of the JavaScript client, as the entry (/v1/client.js) imports it by relative URL.",
        "parameters": [{"name": "module", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]+\\.js$"},
                        "description": "The module's file name (`connection.js`, `presence.js`, ...): never a path."}],
        "responses": {"200": {"description": "The module.", "content": {"text/javascript": {"schema": {"type": "string"}}}},
                      **errors(404)},
    }},
    "/v1/ws": {"get": {
        "operationId": "webSocket",
        "summary": "The WebSocket endpoint (RFC 6455, version 13); the frames are in protocol/README.md.",
        "parameters": [
            {"name": "token", "in": "query", "required": False, "schema": {"type": "string"},
             "description": "The connection's JWT (or send `Authorization: Bearer JWT`)."},
            {"name": "user", "in": "query", "required": False, "schema": {"type": "string"},
             "description": "Development mode only: the user id."},
            {"name": "name", "in": "query", "required": False, "schema": {"type": "string"},
             "description": "Development mode only: the user's display name."},
        ],
        "responses": {
            "101": {"description": "Switching to the WebSocket protocol; the first frame is `welcome`."},
            **errors(400, 401, 403, 426, 429, 503),
        },
    }},
    "/v1/publish": {"post": {
        "operationId": "publish", "summary": "Publish one LiveEvent or a batch of up to 1,000, all or nothing.",
        "security": BEARER,
        "requestBody": {"required": True, "content": {"application/json": {"schema": ref("publish-request")}}},
        "responses": {"200": json_body("publish-response", "Published: each event's channel and offset, in request order."),
                      **errors(400, 401, 413, 415, 503)},
    }},
    "/v1/sse": {"get": {
        "operationId": "eventStream",
        "summary": "One subscription over Server-Sent Events: each event's id is its stream position, so Last-Event-ID recovers what a reconnecting browser missed.",
        "parameters": [
            {"name": "channel", "in": "query", "required": True, "schema": {"type": "string"}, "description": "The channel."},
            {"name": "types", "in": "query", "required": False, "schema": {"type": "string"}, "description": "Comma-separated event types; default every type."},
            {"name": "ids", "in": "query", "required": False, "schema": {"type": "string"}, "description": "Comma-separated ids to filter on."},
            {"name": "token", "in": "query", "required": False, "schema": {"type": "string"}, "description": "The connection's JWT."},
            {"name": "lastEventId", "in": "query", "required": False, "schema": {"type": "string"},
             "description": "A position (EPOCH:OFFSET) to recover from on the first connect; the Last-Event-ID header wins."},
            {"name": "Last-Event-ID", "in": "header", "required": False, "schema": {"type": "string"},
             "description": "Sent by the browser when it reconnects: the last event's id, EPOCH:OFFSET."},
        ],
        "responses": {"200": {"description": "The stream: the position, then each admitted event (id EPOCH:OFFSET, data a LiveEvent), and a comment every ping interval.",
                              "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                      **errors(400, 401, 403, 429, 503)},
    }},
    "/v1/history": {"get": {
        "operationId": "history", "summary": "A channel's kept history: the events a reconnecting subscriber could recover, oldest first.",
        "security": BEARER,
        "parameters": [
            {"name": "channel", "in": "query", "required": True, "schema": {"type": "string"}, "description": "The channel."},
            {"name": "since", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0},
             "description": "Only events after this offset (with `epoch`)."},
            {"name": "epoch", "in": "query", "required": False, "schema": {"type": "string"},
             "description": "The epoch `since` belongs to; another epoch answers every kept event with `complete: false`."},
            {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0},
             "description": "At most this many events (never more than 1,000)."},
        ],
        "responses": {"200": json_body("history-response", "The kept events and the channel's position now."),
                      **errors(400, 401, 503)},
    }},
    "/v1/presence/{channel}": {
        "parameters": [CHANNEL_PATH],
        "get": {
            "operationId": "readPresence", "summary": "Who is present on a channel (or only how many, with `count=1`).",
            "security": BEARER,
            "parameters": [
                {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0},
                 "description": "List at most this many members (never more than the server's --max-presence-members)."},
                {"name": "count", "in": "query", "required": False, "schema": {"type": "string", "enum": ["1", "true"]},
                 "description": "Answer with the total alone."},
            ],
            "responses": {"200": {"description": "The members, longest present first, and the total; or the total alone with `count=1`.",
                                  "content": {"application/json": {"schema": {"oneOf": [ref("presence-list-response"), ref("presence-count-response")]}}}},
                          **errors(400, 401)},
        },
        "post": {
            "operationId": "enterPresence", "summary": "Make a user present through the backend, for a TTL.",
            "security": BEARER,
            "requestBody": {"required": True, "content": {"application/json": {"schema": ref("presence-post-request")}}},
            "responses": {"200": json_body("presence-post-response", "The user is present until the TTL lapses."),
                          **errors(400, 401, 413, 415)},
        },
        "delete": {
            "operationId": "leavePresence", "summary": "Remove a backend presence entry at once.",
            "security": BEARER,
            "parameters": [{"name": "user", "in": "query", "required": True, "schema": {"type": "string"},
                            "description": "The user whose backend entry goes."}],
            "responses": {"200": json_body("presence-delete-response", "Whether there was an entry to remove."),
                          **errors(400, 401)},
        },
    },
    "/v1/records": {"get": {
        "operationId": "readRecord", "summary": "A record's version, tombstone and last write of each field.",
        "security": BEARER,
        "parameters": [
            {"name": "channel", "in": "query", "required": True, "schema": {"type": "string"}, "description": "The record's channel."},
            {"name": "id", "in": "query", "required": True, "schema": {"type": "string"}, "description": "The record's id."},
        ],
        "responses": {"200": json_body("record-state-response", "The record's state; `{}` as the version of a record never written."),
                      **errors(400, 401, 503)},
    }},
    "/v1/records/commit": {"post": {
        "operationId": "commitRecord",
        "summary": "Check (and, unless `dryRun`, record) a commit on a context: 200 accepted, 409 conflict.",
        "security": BEARER,
        "requestBody": {"required": True, "content": {"application/json": {"schema": ref("record-commit-request")}}},
        "responses": {"200": json_body("record-commit-response", "Accepted and durable, or (a dry run) would be accepted: nothing written."),
                      "409": json_body("record-conflict-response", "A conflict: who changed what since the context."),
                      **errors(400, 401, 413, 415, 503)},
    }},
    "/v1/records/delete": {"post": {
        "operationId": "deleteRecord", "summary": "Delete a record on a context, leaving a tombstone: 200 accepted, 409 conflict.",
        "security": BEARER,
        "requestBody": {"required": True, "content": {"application/json": {"schema": ref("record-delete-request")}}},
        "responses": {"200": json_body("record-commit-response", "Deleted (durable), or (a dry run) would be."),
                      "409": json_body("record-conflict-response", "A conflict: who changed what since the context."),
                      **errors(400, 401, 413, 415, 503)},
    }},
}

ERROR_MEANINGS = {
    405: "A method the path does not document: the `Allow` header names those it does.",
    400: "Bad request: the body, a parameter or the channel breaks a rule (`invalid_json`, `invalid_frame`, `invalid_event`, `invalid_channel`, `bad_request`).",
    401: "Missing or invalid API key (or, at the WebSocket upgrade, token).",
    403: "Forbidden (at the WebSocket upgrade: an origin not on the allow-list).",
    404: "Not found (`not_found`): nothing by that name.",
    413: "The request body is over the limit.",
    415: "The body is not `application/json`.",
    426: "The upgrade asked for a WebSocket version other than 13.",
    429: "Too many connections from this address or of this user.",
    503: "The server is at its connection limit, or the record store or the broker is unavailable.",
}


def _rewrite_refs(node, own: str):
    """References between schema files and within one, as references into components.schemas."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                target, _, fragment = value.partition("#")
                name = target[:-len(".json")] if target else own
                out[key] = f"#/components/schemas/{name}" + (fragment if fragment else "")
            elif key in ("$id", "$schema"):
                continue
            else:
                out[key] = _rewrite_refs(value, own)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(v, own) for v in node]
    return node


def _referenced(node) -> set[str]:
    found = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/components/schemas/"):
                found.add(value.split("/")[3])
            else:
                found |= _referenced(value)
    elif isinstance(node, list):
        for value in node:
            found |= _referenced(value)
    return found


def build() -> dict:
    schemas = {p.name[:-len(".json")]: json.loads(p.read_text(encoding="utf-8")) for p in sorted(SCHEMA_DIR.glob("*.json"))}
    responses = {f"Error{status}": json_body("error-response", meaning) for status, meaning in ERROR_MEANINGS.items()}
    components: dict[str, dict] = {}
    pending = sorted(_referenced(PATHS) | _referenced(responses))
    while pending:
        name = pending.pop()
        if name in components:
            continue
        components[name] = _rewrite_refs(copy.deepcopy(schemas[name]), name)
        pending.extend(sorted(_referenced(components[name]) - set(components)))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Concord HTTP API",
            "version": VERSION,
            "summary": "Realtime presence and conflict service: the backend's HTTP API (protocol v1).",
            "description": "Backends publish events, read and hold presence, and check commits against records' version vectors. protocol/README.md is the full contract, the WebSocket frames included; the bodies here are its JSON Schemas. Errors have the body `{\"error\": {\"code\", \"message\"}}`. A method a path does not document is answered `405 method_not_allowed`, with an `Allow` header naming those it does.",
            "license": {"name": "See the repository"},
        },
        "servers": [{"url": "http://127.0.0.1:7700", "description": "A local Concord (`concord serve`)."}],
        "paths": PATHS,
        "components": {
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer",
                                           "description": "An API key given to `concord serve --api-key` or listed in `--api-keys-file`."}},
            "responses": responses,
            "schemas": dict(sorted(components.items())),
        },
    }


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    text = render()
    if "--check" in sys.argv[1:]:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT.relative_to(ROOT)} is out of date: run python3 scripts/build-openapi.py", file=sys.stderr)
            sys.exit(1)
        sys.exit(0)
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)} ({len(build()['components']['schemas'])} schemas)")
