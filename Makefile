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

# Every debug build uses one of two feature sets, so that no dependency compiles twice: cargo
# unifies features over the packages a command selects, and a crate built with other features
# (or above one that was) is built again.
#   - the tests, `--workspace` with dev-dependencies: the unit tests, then the e2e suite (its
#     own crate is all that is left to compile), and the criterion benches of `make bench-smoke`;
#   - the binaries, `--workspace --bins`: what `cargo lambda watch` asks for (`cargo run --bin
#     NAME` at the root), so it finds them fresh instead of compiling one on its first request,
#     which a loaded machine can stretch past a test's HTTP timeout. bench/floor is among them:
#     the benchmark smoke run (bench/coldstart/impls.py) builds the same set.
unit:
	cargo test --workspace --exclude e2e

e2e: tools
	cargo build --workspace --bins
	cargo test --workspace --test e2e -- --test-threads=2

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
