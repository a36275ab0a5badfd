#!/usr/bin/env bash
# Regenerates BENCHMARKS.md (`make bench` calls this):
#
#   1. installs what is missing: the local stack's tools (dev/tools.sh: moto, the provider's npm
#      packages), the Python peer's packages into bench/.venv, the Node peer's with `npm ci`;
#      builds the launcher of the local stack (dev/stack), which starts moto and the providers;
#   2. runs the criterion micro-benchmarks (shared/benches/flows.rs);
#   3. runs the cold-start harness (bench/coldstart.py: builds the release functions, then
#      measures them, the same functions with two providers configured (rust-2p) and both
#      peers as fresh processes on loopback);
#   4. runs it again with moto and the providers behind TLS on loopback (--tls: a test CA every
#      implementation trusts), the headline;
#   5. runs it a third time with TLS and every function process under the CPU quota Lambda gives
#      128 MB (--memory-mb 128, a cgroup: needs root), N=10 rounds (BENCH_N_128 overrides), ours
#      and both peers;
#   6. writes BENCHMARKS.md (bench/report.py).
#   The proxy function is measured in ours' rounds of each harness run (its added latency over a
#   direct call to the upstream API, dev/upstream; its cold start against its floor).
#
#   bash bench/run.sh            full run: N=20 rounds (BENCH_N overrides), criterion defaults
#   bash bench/run.sh --smoke    CI: shows that everything still runs, measures nothing: the
#                                criterion benchmarks once each in test mode, the harness on the
#                                debug build for N=2 (the client-authentication variants rust-par
#                                and rust-fapi2 among its implementations: about 15 s more), the
#                                report in target/bench/BENCHMARKS-smoke.md
#   bash bench/run.sh --proxy    the proxy's figures alone: steps 3-5 with ours only (--impls rust,
#                                into target/bench/proxy*.json), then only the proxy's section of
#                                BENCHMARKS.md is replaced (report.py --proxy-only); no criterion
#   bash bench/run.sh --load     sessions under load alone (bench/load: 1,000 sessions through login,
#                                refresh grants on a 30 s provider access token and logout, 4
#                                instances of each function, moto and oidc-provider; about 3 min),
#                                into target/bench/load.json, then only the load section of
#                                BENCHMARKS.md is replaced (bench/report_load.py); BENCH_LOAD_ARGS
#                                passes options to it (target/debug/load --help)
#   bash bench/run.sh --client-auth
#                                client authentication without a shared secret alone: the harness
#                                on loopback (no TLS, no CPU quota) with --impls
#                                rust,rust-par,rust-fapi2 (ours with client_secret_basic, with
#                                private_key_jwt and PAR required, with the FAPI 2.0 profile and DPoP
#                                nonces; interleaved rounds, N=10 unless --n=N or BENCH_N; about
#                                2 min) into target/bench/client-auth.json, then only that section of
#                                BENCHMARKS.md is replaced (report.py --client-auth-only); the full run
#                                keeps the section it finds
#   The smoke run also runs bench/load --smoke (50 sessions, 10 s access token, still 4 instances
#   of each function; under a minute) and adds its section to BENCHMARKS-smoke.md; the full run
#   keeps the load section of the BENCHMARKS.md it replaces.
#
# Raw results and logs land in target/bench/. Builds run under `nice -n 10`, measurements do not.
set -euo pipefail
cd "$(dirname "$0")/.."

smoke=0
proxy=0
load=0
client_auth=0
n=${BENCH_N:-}
for arg in "$@"; do
  case $arg in
    --smoke) smoke=1 ;;
    --proxy) proxy=1 ;;
    --load) load=1 ;;
    --client-auth) client_auth=1 ;;
    --n=*) n=${arg#--n=} ;;
    -h|--help) sed -n '2,48p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $arg (use --smoke, --proxy, --load, --client-auth or --n=N)" >&2; exit 2 ;;
  esac
done
if [ "$client_auth" = 1 ] && [ $((smoke + proxy + load)) -gt 0 ]; then
  echo "run.sh: --client-auth runs alone" >&2
  exit 2
fi
if [ -z "$n" ]; then
  if [ "$client_auth" = 1 ]; then n=10; else n=20; fi
fi
if [ "$smoke" = 1 ] && [ "$proxy" = 1 ]; then
  echo "run.sh: --smoke already runs the proxy; use one or the other" >&2
  exit 2
fi
if [ "$load" = 1 ] && [ $((smoke + proxy)) -gt 0 ]; then
  echo "run.sh: --load runs alone" >&2
  exit 2
fi
[ "$smoke" = 1 ] && n=2

need() { command -v "$1" >/dev/null 2>&1 || { echo "run.sh: '$1' is required ($2)" >&2; exit 1; }; }
need openssl "Debian: apt-get install openssl"
need nice "coreutils"

# Whether this machine lets us make a cgroup with a CPU quota (the 128 MB mode).
quota_ok() {
  local probe=/sys/fs/cgroup/cpu/spa-login-probe-$$
  [ -f /sys/fs/cgroup/cgroup.controllers ] && grep -qw cpu /sys/fs/cgroup/cgroup.controllers && probe=/sys/fs/cgroup/spa-login-probe-$$
  mkdir "$probe" 2>/dev/null && rmdir "$probe"
}

echo "run.sh: installing what is missing"
bash dev/tools.sh

stamp=bench/.venv/.requirements
if [ ! -x bench/.venv/bin/python3 ] || ! cmp -s bench/peers/python/requirements.txt "$stamp"; then
  echo "run.sh: installing the Python peer's packages into bench/.venv"
  python3 -m venv bench/.venv
  bench/.venv/bin/pip install --quiet --disable-pip-version-check -r bench/peers/python/requirements.txt
  cp bench/peers/python/requirements.txt "$stamp"
fi
# Bytecode ahead of time, as a deployment package built by pip has it.
bench/.venv/bin/python -m compileall -q bench/.venv/lib bench/peers/python >/dev/null || true

if [ ! -d bench/peers/node/node_modules ] || [ bench/peers/node/package-lock.json -nt bench/peers/node/node_modules/.package-lock.json ]; then
  echo "run.sh: npm ci in bench/peers/node"
  (cd bench/peers/node && npm ci --no-audit --no-fund --loglevel=error)
fi

# The launcher of the local stack (dev/stack) starts moto and the providers for the harness;
# it is built with every binary, as `make bins` does (a no-op after `make test`).
echo "run.sh: building the binaries (the launcher among them)"
nice -n 10 cargo build --workspace --bins

mkdir -p target/bench
loadbin="${CARGO_TARGET_DIR:-target}/debug/load"

if [ "$load" = 1 ]; then
  echo "run.sh: sessions under load (bench/load)"
  # Checks that fail still leave a report to read; the status is the harness's.
  status=0
  # shellcheck disable=SC2086
  "$loadbin" ${BENCH_LOAD_ARGS:-} --out target/bench/load.json || status=$?
  [ -f target/bench/load.json ] && python3 bench/report_load.py --in target/bench/load.json
  exit "$status"
fi

export CRITERION_HOME="$PWD/target/bench/criterion"
started=$(date +%s)
if [ "$smoke" = 1 ]; then
  # The debug build the tests already made (`--workspace`: the unit tests' features, see the
  # Makefile): every benchmark runs once, nothing is measured.
  echo "run.sh: criterion benchmarks in test mode (shared/benches/flows.rs)"
  cargo test --workspace --bench flows
  echo "run.sh: cold-start harness on the debug build, N=$n"
  # Three warm proxied requests per proxy process are enough to show the proxy's rounds run.
  python3 bench/coldstart.py --n "$n" --profile dev --proxy-events 3 --impls rust,rust-2p,rust-stateless,python,node,rust-par,rust-fapi2
  echo "run.sh: cold-start harness with TLS, N=1"
  python3 bench/coldstart.py --n 1 --profile dev --skip-build --tls --proxy-events 3 --out target/bench/coldstart-tls.json
  rm -f target/bench/coldstart-128mb.json
  if quota_ok; then
    echo "run.sh: cold-start harness with TLS under the 128 MB CPU quota, ours only, N=1"
    python3 bench/coldstart.py --n 1 --profile dev --skip-build --tls --impls rust --memory-mb 128 --proxy-events 3 --out target/bench/coldstart-128mb.json
  else
    echo "run.sh: no writable cgroup cpu controller here: the 128 MB mode is skipped"
  fi
  python3 bench/report.py --smoke --criterion-since "$started" --out target/bench/BENCHMARKS-smoke.md
  echo "run.sh: sessions under load, CI's budget (bench/load --smoke)"
  "$loadbin" --smoke --out target/bench/load-smoke.json
  python3 bench/report_load.py --in target/bench/load-smoke.json --out target/bench/BENCHMARKS-smoke.md >/dev/null
  exit 0
fi

if [ "$client_auth" = 1 ]; then
  echo "run.sh: client authentication without a shared secret (rust, rust-par, rust-fapi2), N=$n"
  python3 bench/coldstart.py --n "$n" --impls rust,rust-par,rust-fapi2 --out target/bench/client-auth.json
  python3 bench/report.py --client-auth-only
  exit 0
fi

if [ "$proxy" = 1 ]; then
  echo "run.sh: the proxy alone (ours' rounds), N=$n"
  python3 bench/coldstart.py --n "$n" --impls rust --out target/bench/proxy.json
  echo "run.sh: the proxy alone with TLS, N=$n"
  python3 bench/coldstart.py --n "$n" --skip-build --impls rust --tls --out target/bench/proxy-tls.json
  rm -f target/bench/proxy-128mb.json
  if quota_ok; then
    n128=${BENCH_N_128:-10}
    echo "run.sh: the proxy alone with TLS under the 128 MB CPU quota, N=$n128"
    python3 bench/coldstart.py --n "$n128" --skip-build --tls --impls rust --memory-mb 128 --out target/bench/proxy-128mb.json
  else
    echo "run.sh: no writable cgroup cpu controller here (run as root): the 128 MB run is left out"
  fi
  python3 bench/report.py --proxy-only
  exit 0
fi

echo "run.sh: criterion (shared/benches/flows.rs)"
nice -n 10 cargo bench -p shared --features test-support --bench flows --no-run
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
# Built under nice above; measured at normal priority.
cargo bench -p shared --features test-support --bench flows
printf '{"before": "%s", "after": "%s"}\n' "$load_before" "$(cut -d' ' -f1-3 /proc/loadavg)" \
  > target/bench/criterion-load.json

echo "run.sh: cold-start harness, N=$n"
python3 bench/coldstart.py --n "$n"
echo "run.sh: cold-start harness with TLS, N=$n"
python3 bench/coldstart.py --n "$n" --skip-build --tls --out target/bench/coldstart-tls.json

rm -f target/bench/coldstart-128mb.json
if quota_ok; then
  n128=${BENCH_N_128:-10}
  echo "run.sh: cold-start harness with TLS under the 128 MB CPU quota, N=$n128"
  python3 bench/coldstart.py --n "$n128" --skip-build --tls --impls rust,python,node --memory-mb 128 --out target/bench/coldstart-128mb.json
else
  echo "run.sh: no writable cgroup cpu controller here (run as root): the 128 MB section is left out"
fi

# report.py writes the whole file again: the load section (`--load`) is carried over.
cp BENCHMARKS.md target/bench/BENCHMARKS-before.md 2>/dev/null || true
python3 bench/report.py --criterion-since "$started"
python3 bench/report_load.py --keep-from target/bench/BENCHMARKS-before.md
