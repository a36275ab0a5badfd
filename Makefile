# The two commands of the README: `make dev` runs everything locally, `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help dev bins test unit e2e lint fmt tools secret bench bench-smoke load fuzz fuzz-smoke cargo-fuzz

help: ## list every target
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z0-9-]+):.*## (.*)/  make \1\t\2/' | expand -t 20

# The one launcher of the local stack (dev/stack): `make dev`, every e2e test and the
# benchmarks start moto, the providers, the functions and the demo through it.
STACK := $(or $(CARGO_TARGET_DIR),target)/debug/stack

dev: bins ## run the whole stack locally (moto, OpenID provider, cargo lambda watch, demo SPA); DEV_LEMONLDAP=1 adds LemonLDAP::NG
	@$(STACK) dev

tools: ## install what is missing: .venv (cargo-lambda, moto), the npm packages
	@bash dev/tools.sh

test: unit e2e ## run every test: unit and in-process suites, then end-to-end tests against the real local stack

# Every debug build uses one of two feature sets, so that no dependency compiles twice: cargo
# unifies features over the packages a command selects, and a crate built with other features
# (or above one that was) is built again.
#   - the tests, `--workspace` with dev-dependencies: the unit tests, then the e2e suite (its
#     own crate is all that is left to compile), and the criterion benches of `make bench-smoke`;
#   - the binaries, `--workspace --bins`: what `cargo lambda watch` asks for (`cargo run --bin
#     NAME` at the root), so it finds them fresh instead of compiling one on its first request,
#     which a loaded machine can stretch past a test's HTTP timeout. bench/floor and the
#     launcher (dev/stack) are among them: the benchmark smoke run builds the same set.
bins: tools ## build every binary (the functions, the launcher, the tools) as cargo lambda watch finds them
	cargo build --workspace --bins

unit: ## the unit and in-process suites (cargo test), no local stack
	cargo test --workspace --exclude e2e

e2e: bins ## the end-to-end suite (tests/), each test on a stack of its own
	cargo test --workspace --test e2e -- --test-threads=2

lint: ## cargo fmt --check and clippy with warnings as errors
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt: ## format the workspace
	cargo fmt --all

ALG ?= RS256
secret: ## print a fresh secret JSON (ALG=RS256|ES256|EdDSA; OIDC_CLIENT_SECRET must be set)
	@cargo run --quiet -p secret-tool -- generate --alg $(ALG)

bench: bins ## benchmarks: criterion and the cold-start harness against the Python and Node peers; writes BENCHMARKS.md
	bash bench/run.sh

bench-smoke: bins ## the benchmarks once, measuring nothing (CI): that they still run
	bash bench/run.sh --smoke

load: bins ## sessions under load (bench/load): 1,000 sessions, 4 instances of each function, moto and oidc-provider; its section of BENCHMARKS.md
	bash bench/run.sh --load

# Fuzzing (fuzz/, its own workspace): one libFuzzer target per parser of browser and provider
# input, built once (fuzz/run.sh) and run in turn, two at a time. cargo-fuzz runs on the stable
# toolchain with RUSTC_BOOTSTRAP=1; its build lands in $(CARGO_TARGET_DIR)/fuzz when that is
# set (CI's cache), else in fuzz/target.
CARGO_FUZZ_VERSION := 0.13.2
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 5
export FUZZ_TARGET_DIR ?= $(if $(CARGO_TARGET_DIR),$(CARGO_TARGET_DIR)/fuzz,$(CURDIR)/fuzz/target)

cargo-fuzz:
	@cargo fuzz --version 2>/dev/null | grep -qx 'cargo-fuzz $(CARGO_FUZZ_VERSION)' \
		|| cargo install --locked cargo-fuzz@$(CARGO_FUZZ_VERSION)

fuzz: cargo-fuzz ## fuzz every parser FUZZ_SECONDS seconds each (default 60; release build); a crash lands in fuzz/artifacts-found/
	bash fuzz/run.sh $(FUZZ_SECONDS) release

fuzz-smoke: cargo-fuzz ## every fuzz target FUZZ_SMOKE_SECONDS seconds (default 5; debug build): that they build, run and find nothing (CI)
	bash fuzz/run.sh $(FUZZ_SMOKE_SECONDS) dev
