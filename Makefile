# Concord's everyday commands. `make run` and `make test` install what they need first.
SWIFT ?= swift
FUZZ_SECONDS ?= 20

.PHONY: format format-check run test deps js-test npm-pack browser-test schema-test fuzz fuzz-smoke build release bench bench-suite autobahn clean dist dist-test

deps:
	@scripts/install-deps.sh

## Runs Concord on 127.0.0.1:7700 in development mode (no tokens, API key "dev").
run: deps
	$(SWIFT) build -c release --product concord
	.build/release/concord serve --dev --api-key dev

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

## Every test: Swift unit and integration tests, the JavaScript client tests, the demo in a real
## browser, the protocol schemas, and a short fuzz run.
test: deps
	@scripts/install-deps.sh test
	$(MAKE) format-check
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	$(MAKE) js-test
	$(MAKE) browser-test
	CONCORD_FRAME_LOG_REQUIRED=1 $(MAKE) schema-test
	$(MAKE) fuzz-smoke

## The JavaScript client against the real server; every frame and JSON body the server sends is
## recorded in artifacts/frames.jsonl, which schema-test checks against the protocol's schemas.
js-test:
	$(SWIFT) build --product concord
	mkdir -p artifacts && rm -f artifacts/frames.jsonl
	CONCORD_BIN=$(CURDIR)/.build/debug/concord CONCORD_FRAME_LOG=$(CURDIR)/artifacts/frames.jsonl \
		node --experimental-websocket --import ./Tests/js/record-frames.mjs --test Tests/js/

## The JavaScript client as an npm package: dist/concord-client-VERSION.tgz, the served modules and
## protocol/concord.d.ts with clients/js/package.json, its version from VERSION. js-test installs one.
npm-pack:
	scripts/npm-pack.sh dist

## The demo (/demo) in headless Chromium (Debian's chromium and chromium-driver), two users at once.
## Screenshots of every state go to artifacts/browser/.
browser-test:
	$(SWIFT) build --product concord
	PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install -q -r Tests/browser/requirements.txt
	CONCORD_BIN=$(CURDIR)/.build/debug/concord python3 -m pytest -q Tests/browser

## The protocol's JSON Schemas and OpenAPI document against protocol/README.md, concord.d.ts, the
## traffic js-test recorded, and the real server.
schema-test:
	$(SWIFT) build --product concord
	PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install -q -r Tests/schema/requirements.txt
	CONCORD_BIN=$(CURDIR)/.build/debug/concord python3 -m pytest -q Tests/schema

## What a server needs, in dist/: a self-contained binary in a versioned tarball, a .deb with a
## systemd unit, and the JavaScript client as an npm tarball.
dist: deps
	@scripts/install-deps.sh dist
	scripts/dist.sh

## Installs and runs what `make dist` built, as an operator would (root: it installs the .deb).
dist-test: dist
	scripts/dist-test.sh

fuzz-smoke:
	fuzz/run.sh websocket $(FUZZ_SECONDS)
	fuzz/run.sh http $(FUZZ_SECONDS)
	fuzz/run.sh command $(FUZZ_SECONDS)
	fuzz/run.sh record-state $(FUZZ_SECONDS)
	fuzz/run.sh token $(FUZZ_SECONDS)
	fuzz/run.sh stream-position $(FUZZ_SECONDS)
	fuzz/run.sh redis-address $(FUZZ_SECONDS)
	fuzz/run.sh redis-stream $(FUZZ_SECONDS)

## Swift sources in the house format (.swift-format): `make format` rewrites them, the check fails on any difference.
format:
	$(SWIFT) format -i -r Sources Tests Plugins fuzz Package.swift

format-check:
	$(SWIFT) format lint --strict -r Sources Tests Plugins fuzz Package.swift

## Longer fuzzing: make fuzz FUZZ_SECONDS=1800
fuzz:
	fuzz/run.sh websocket $(FUZZ_SECONDS)
	fuzz/run.sh http $(FUZZ_SECONDS)
	fuzz/run.sh command $(FUZZ_SECONDS)
	fuzz/run.sh record-state $(FUZZ_SECONDS)
	fuzz/run.sh token $(FUZZ_SECONDS)
	fuzz/run.sh stream-position $(FUZZ_SECONDS)
	fuzz/run.sh redis-address $(FUZZ_SECONDS)
	fuzz/run.sh redis-stream $(FUZZ_SECONDS)

bench: deps
	@scripts/install-deps.sh bench
	scripts/bench.sh
	scripts/bench-records.sh

## Concord beside nginx + nchan and the libuv floor; writes artifacts/bench-suite/results.md (BENCHMARKS.md).
bench-suite: deps
	@scripts/install-deps.sh bench
	scripts/bench-suite.sh

autobahn: deps
	autobahn/run.sh

clean:
	rm -rf .build fuzz/out
