#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 600), JOBS at a time (default 2), then minimizes
# each corpus into corpus/<target>. A corpus starts from the seeds in git (seeds/<target>/);
# corpus/ itself is not in git (CONTRIBUTING.md, "Fuzzing", says how to restore the full one). Needs a nightly toolchain and cargo-fuzz
# (`cargo install cargo-fuzz`). Builds optimized, with overflow checks and debug assertions on.
# Prints one line per target: name, seconds, executions, corpus files; logs go to runs/.
set -euo pipefail
cd "$(dirname "$0")"
SECS=${1:-600}
JOBS=${JOBS:-2}
TARGETS=${TARGETS:-"text json line stream envelope custom config partial escape csv"}
cargo +nightly fuzz build -O -a

fuzz_one() {
  local t=$1 log="runs/$1.log"
  mkdir -p "corpus/$t" "artifacts/$t" runs
  cp -n "seeds/$t"/* "corpus/$t/" 2>/dev/null || true
  if ! cargo +nightly fuzz run -O -a "$t" "corpus/$t" -- -max_total_time="$SECS" \
      -max_len=65536 -print_final_stats=1 >"$log" 2>&1; then
    echo "$t: FAILED, see fuzz/$log"
    return
  fi
  cargo +nightly fuzz cmin -O -a "$t" "corpus/$t" >/dev/null 2>&1 || true
  local execs
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  echo "$t: ${SECS}s, $execs executions, $(ls "corpus/$t" | wc -l) corpus files"
}

running=0
for t in $TARGETS; do
  fuzz_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait
