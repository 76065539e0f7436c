#!/usr/bin/env bash
# Runs the default simulation with 1 and 2 rayon threads and checks the outputs are identical.
# Without --trace, so that the distinct layers really run in parallel (a trace runs them in
# order on one thread); the test suite checks the same in process (tests/integration/snapshots.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
one=$(mktemp -d) two=$(mktemp -d)
trap 'rm -rf "$one" "$two"' EXIT
RAYON_NUM_THREADS=1 target/release/roofsim simulate --out "$one" >/dev/null 2>&1
RAYON_NUM_THREADS=2 target/release/roofsim simulate --out "$two" >/dev/null 2>&1
diff -r "$one" "$two" && echo "identical: kernels.csv channels.csv"
