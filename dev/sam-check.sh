#!/usr/bin/env bash
# CI check of the AWS SAM deployment (template.yaml, samconfig.toml), with no AWS account and no
# Docker:
#   1. a Python venv at ${VENV:-.venv} (relative to the repo root) with pinned aws-sam-cli,
#      cfn-lint, cargo-lambda and ziglang (the cross linker cargo-lambda uses for arm64);
#   2. rustup target aarch64-unknown-linux-gnu;
#   3. cfn-lint template.yaml, then sam validate --lint;
#   4. the SAM transform, offline, once per ProtectMeWith value (None, JwtAuthorizer,
#      LambdaAuthorizer), after expanding Fn::ForEach (AWS::LanguageExtensions), if any: an
#      authorizer on GET /api/me only and exactly the one chosen, the authorizer's invoke
#      permission exactly when it is used, no circular reference between resources (cfn-lint
#      does not follow references inside the HttpApi body), and every function with a role and
#      log group of its own, the role allowed only that log group and the secret; the session
#      table as declared (key h, TTL ttl, SSE, PITR, its two indexes) and each role's DynamoDB
#      statements exactly the listed ones (actions, resources, condition keys and values),
#      with Sessions=On (table created or given) and Off;
#   5. every rust-cargolambda function of the template (the list comes from template.yaml) has
#      its crate at CodeUri with a binary named like BuildProperties.Binary;
#   6. sam build (cargo lambda build --release --arm64, one function at a time);
#   7. .aws-sam/build/<Function>/bootstrap exists for every one of those functions and is an
#      aarch64 ELF executable; prints each size.
# Steps 4, 5 and the ELF check of 7 are dev/sam_check.py (its docstring says what each checks).
#
# Usage: bash dev/sam-check.sh [--no-build]     (--no-build: steps 1-5 only)
# Needs: python3 with venv (Debian: apt-get install python3-venv), rustup and cargo, a C
# compiler for build scripts (Debian: apt-get install build-essential). The first release build
# of the workspace for arm64 takes several minutes on 2 cores; later ones reuse target/.
set -euo pipefail
cd "$(dirname "$0")/.."

# Versions verified together (pip index versions ...). cargo-lambda and ziglang match
# dev/requirements.txt, so this check and `make dev` can share one venv.
PINS=(
  aws-sam-cli==1.170.0
  cfn-lint==1.58.0
  cargo-lambda==1.9.2
  ziglang==0.17.1
)
TARGET=aarch64-unknown-linux-gnu
BUILD=1
for arg in "$@"; do
  case $arg in
    --no-build) BUILD=0 ;;
    -h | --help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "sam-check: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

fail() { echo "sam-check: FAILED: $*" >&2; exit 1; }
step_start=$SECONDS
step() { echo; echo "== sam-check: $* =="; step_start=$SECONDS; }
done_step() { echo "-- took $((SECONDS - step_start)) s"; }

command -v python3 >/dev/null || fail "python3 is not installed (Debian: apt-get install python3 python3-venv)"
command -v cargo >/dev/null || fail "cargo is not installed (rustup: Debian 13 'apt-get install rustup', or https://rustup.rs)"
command -v rustup >/dev/null || fail "rustup is not installed: it adds the $TARGET standard library"
command -v cc >/dev/null || fail "no C compiler 'cc' for build scripts (Debian: apt-get install build-essential)"

VENV=${VENV:-.venv}
case $VENV in /*) ;; *) VENV=$PWD/$VENV ;; esac

step "venv $VENV"
if [ ! -x "$VENV/bin/python3" ]; then
  python3 -m venv "$VENV" || fail "could not create $VENV (Debian: apt-get install python3-venv)"
fi
"$VENV/bin/python3" -m pip --version >/dev/null 2>&1 \
  || fail "$VENV has no pip (Debian: apt-get install python3-venv, then remove $VENV and rerun)"
"$VENV/bin/python3" -m pip install --quiet --disable-pip-version-check "${PINS[@]}" \
  || fail "pip install ${PINS[*]} into $VENV"
# The venv first on PATH: sam, cfn-lint and cargo-lambda from it, and cargo-lambda runs zig as
# `python3 -m ziglang` with the first python3 on PATH, which must be the venv's.
export PATH="$VENV/bin:$PATH"
export SAM_CLI_TELEMETRY=0
# sam validate wants a region even for a local lint; no credentials are used.
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}
[ "$(command -v python3)" = "$VENV/bin/python3" ] || fail "python3 on PATH is not the venv's"
python3 -m ziglang version >/dev/null || fail "zig (python3 -m ziglang) does not run"
echo "sam $(sam --version | awk '{print $NF}'), $(cfn-lint --version), $(cargo-lambda lambda --version | head -n1), zig $(python3 -m ziglang version)"
done_step

step "rustup target add $TARGET"
rustup target add "$TARGET" || fail "rustup target add $TARGET"
done_step

step "cfn-lint template.yaml"
cfn-lint template.yaml || fail "cfn-lint reported problems in template.yaml (above)"
echo "cfn-lint: clean"
done_step

step "sam validate --lint"
sam validate --lint --template template.yaml || fail "sam validate --lint"
done_step

step "sam transform per ProtectMeWith: authorizer wiring, circular references, one role per function"
python3 dev/sam_check.py transform template.yaml || fail "the transformed template is wired wrong (above)"
done_step

# The functions the template builds with cargo-lambda: .aws-sam/build/<logical id>/bootstrap.
step "functions of template.yaml: crate and binary of each"
FUNCTIONS=$(python3 dev/sam_check.py functions template.yaml) || fail "template.yaml names a function whose crate or binary is missing (above)"
[ -n "$FUNCTIONS" ] || fail "template.yaml has no rust-cargolambda function"
echo "$(echo $FUNCTIONS | wc -w) functions: $(echo $FUNCTIONS | tr ' ' ',')"
done_step

if [ "$BUILD" = 0 ]; then
  echo; echo "sam-check: OK (lint only, --no-build)"
  exit 0
fi

step "sam build ($(echo $FUNCTIONS | tr ' ' ','))"
# nice: a release LTO build takes both cores for minutes; leave the machine usable.
nice -n 10 sam build --template template.yaml || fail "sam build"
done_step

step "artifacts"
for fn in $FUNCTIONS; do
  f=.aws-sam/build/$fn/bootstrap
  [ -f "$f" ] || fail "$f is missing"
  [ -x "$f" ] || fail "$f is not executable"
  python3 dev/sam_check.py elf "$f" || fail "$f is not an aarch64 ELF executable"
  size=$(wc -c <"$f" | tr -d ' ')
  printf '%-24s %10s bytes (%s KiB)  aarch64 ELF\n' "$fn" "$size" "$((size / 1024))"
done
done_step

echo; echo "sam-check: OK"
