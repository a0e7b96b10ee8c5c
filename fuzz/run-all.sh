#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 600) each, one after the other, then minimizes
# its corpus into corpus/<target>. Needs a nightly toolchain and cargo-fuzz
# (`cargo install cargo-fuzz`). Builds optimized, with overflow checks and debug assertions on.
# Prints one line per target: name, seconds, executions, corpus files.
set -euo pipefail
cd "$(dirname "$0")"
SECS=${1:-600}
TARGETS=${TARGETS:-"text json line stream envelope custom config partial"}
cargo +nightly fuzz build -O -a
for t in $TARGETS; do
  mkdir -p "corpus/$t" "artifacts/$t" "runs"
  log="runs/$t.log"
  cargo +nightly fuzz run -O -a "$t" "corpus/$t" -- -max_total_time="$SECS" -max_len=65536 \
    -print_final_stats=1 >"$log" 2>&1 || { echo "$t: FAILED, see fuzz/$log"; continue; }
  cargo +nightly fuzz cmin -O -a "$t" "corpus/$t" >/dev/null 2>&1 || true
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  echo "$t: ${SECS}s, $execs executions, $(ls "corpus/$t" | wc -l) corpus files"
done
