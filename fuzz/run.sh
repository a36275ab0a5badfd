#!/usr/bin/env bash
# Builds every fuzz target in one cargo run, then runs each for SECONDS seconds, JOBS at a
# time (`make fuzz`, `make fuzz-smoke`). Usage: fuzz/run.sh SECONDS [dev|release]
#
# New inputs go to work/<target>/ (not committed), beside the seed corpus corpus/<target>/,
# which a run reads and never writes. A crash stops the run with the input in
# artifacts-found/<target>-crash-*: turn it into a unit test in the parser's own tests.
set -euo pipefail
seconds=${1:?seconds per target}
profile=${2:-release}
jobs=${FUZZ_JOBS:-2}
cd "$(dirname "$0")"
target_dir=${FUZZ_TARGET_DIR:-$PWD/target}
host=$(rustc -vV | sed -n 's/^host: //p')

# No sanitizer: the workspace forbids unsafe code, and AWS-LC's C code is compiled by its own
# build script, which AddressSanitizer's flags do not reach; it would double the build and
# halve the runs for nothing. `dev` (make fuzz-smoke) builds about twice as fast as `release`.
flags=(--sanitizer none --target "$host" --target-dir "$target_dir")
if [ "$profile" = dev ]; then flags+=(--dev); out=debug; else flags+=(--release --codegen-units 16); out=release; fi
# cargo-fuzz passes nightly flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain take them.
started=$SECONDS
RUSTC_BOOTSTRAP=1 cargo fuzz build "${flags[@]}"
echo "fuzz targets built ($profile) in $((SECONDS - started))s"

bin=$target_dir/$host/$out
mkdir -p work artifacts-found
run_one() {
  local t=$1
  mkdir -p "work/$t"
  if "$bin/$t" -max_total_time="$seconds" -timeout=25 -print_final_stats=1 \
      -artifact_prefix="artifacts-found/$t-" "work/$t" "corpus/$t" >"work/$t.log" 2>&1; then
    local runs speed
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "work/$t.log")
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "work/$t.log")
    printf '%-14s ok: %s runs, %s/s\n' "$t" "$runs" "$speed"
  else
    echo "$t FAILED: its input is in fuzz/artifacts-found/, the end of its log follows"
    tail -n 60 "work/$t.log"
    return 1
  fi
}

failed=0
running=0
for t in $(cargo fuzz list); do
  if [ "$running" -ge "$jobs" ]; then
    wait -n || failed=1
    running=$((running - 1))
  fi
  run_one "$t" &
  running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
  wait -n || failed=1
  running=$((running - 1))
done
exit "$failed"
