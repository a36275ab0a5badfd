# The two commands of the README: `make dev` runs everything locally, `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help dev test unit e2e lint fmt tools secret bench bench-smoke

help:
	@echo "make dev    run the whole stack locally (moto, OpenID provider, cargo lambda watch, demo SPA)"
	@echo "make test   run every test: unit tests, then end-to-end tests against the real local stack"
	@echo "make lint   cargo fmt --check and clippy with warnings as errors"
	@echo "make bench  benchmarks: criterion and the cold-start harness against the Python and Node peers"
	@echo "make secret print a fresh secret JSON (ALG=RS256|ES256|EdDSA; OIDC_CLIENT_SECRET must be set)"

dev:
	@bash dev/dev.sh

tools:
	@bash dev/tools.sh

test: unit e2e

unit:
	cargo test --workspace --exclude e2e

# Every binary the stacks run is built first: `cargo lambda watch` then only checks that they
# are fresh instead of compiling one on its first request (which a loaded machine can stretch
# past a test's HTTP timeout). bench/floor too: the benchmark smoke run (.ci/run) builds this
# same set (bench/coldstart/impls.py) and finds it fresh instead of compiling it again.
e2e: tools
	cargo build -p login -p callback -p issuer -p me -p logout -p refresh -p authorizer -p secret-tool -p floor
	cargo test -p e2e -- --test-threads=2

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

ALG ?= RS256
secret:
	@cargo run --quiet -p secret-tool -- generate --alg $(ALG)

bench: tools
	bash bench/run.sh

bench-smoke: tools
	bash bench/run.sh --smoke
