#!/usr/bin/env bash
# Runs a sweep as N shards and merges them. Locally, the shards run with GNU parallel (or one
# after another without it); on a Slurm cluster, submit this script as an array job:
#   sbatch --array=0-7 tools/sweep-cluster.sh configs/sweeps/vision-tiling.toml results 8
# and run `roofsim merge --out results results/shard-*/sweep.csv` when all are done: it
# checks that every shard is there, finished and of the same sweep, and writes sweep.csv,
# pareto.svg and best.toml into results/.
# Each shard resumes where it stopped if it is run again after an interruption.
set -euo pipefail
sweep=${1:?usage: sweep-cluster.sh SWEEP.toml OUT_DIR SHARDS}
out=${2:?usage: sweep-cluster.sh SWEEP.toml OUT_DIR SHARDS}
shards=${3:?usage: sweep-cluster.sh SWEEP.toml OUT_DIR SHARDS}
roofsim=${ROOFSIM:-target/release/roofsim}

run_shard() {
    "$roofsim" sweep --sweep "$sweep" --shard "$1/$shards" --resume --jobs "${JOBS:-1}" \
        --out "$out/shard-$1" > "$out/shard-$1.summary.txt"
}

mkdir -p "$out"
if [[ -n "${SLURM_ARRAY_TASK_ID:-}" ]]; then
    run_shard "$SLURM_ARRAY_TASK_ID"
    exit 0
fi
[[ -x "$roofsim" ]] || cargo build --release --quiet
if command -v parallel >/dev/null; then
    export -f run_shard
    export roofsim sweep out shards
    seq 0 $((shards - 1)) | parallel run_shard
else
    for ((shard = 0; shard < shards; shard++)); do run_shard "$shard"; done
fi
"$roofsim" merge --out "$out" "$out"/shard-*/sweep.csv
