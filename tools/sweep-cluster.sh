#!/usr/bin/env bash
# Runs a sweep as N shards and merges them into OUT_DIR (sweep.csv, pareto.svg, best.toml:
# byte-identical to one run). Each shard resumes where it stopped if run again.
#
# Locally: tools/sweep-cluster.sh SWEEP.toml OUT_DIR SHARDS
#   runs the shards at once (GNU parallel when installed, else as background jobs, at most
#   one per core), then merges.
#
# On a Slurm cluster, submit it as an array job, one task per shard, from any folder:
#   jobid=$(sbatch --parsable --array=0-7 tools/sweep-cluster.sh SWEEP.toml OUT_DIR)
#   sbatch --dependency=afterok:$jobid tools/sweep-cluster.sh --merge OUT_DIR
# The shard count is the array's (SLURM_ARRAY_TASK_COUNT; a SHARDS argument must agree),
# each task uses its SLURM_CPUS_PER_TASK cores, and relative paths are the submit folder's.
# Slurm runs a copy of this script, so the binary is ROOFSIM, else `roofsim` on the PATH,
# else the submit folder's target/release/roofsim.
set -euo pipefail
usage="usage: sweep-cluster.sh SWEEP.toml OUT_DIR [SHARDS] | sweep-cluster.sh --merge OUT_DIR"
[[ -n "${SLURM_SUBMIT_DIR:-}" ]] && cd "$SLURM_SUBMIT_DIR"
here=$(cd "$(dirname "$0")/.." && pwd)
if [[ -n "${ROOFSIM:-}" ]]; then
    roofsim=$ROOFSIM
elif command -v roofsim >/dev/null; then
    roofsim=$(command -v roofsim)
elif [[ -n "${SLURM_JOB_ID:-}" ]]; then
    roofsim=$PWD/target/release/roofsim
else
    roofsim=$here/target/release/roofsim
    [[ -x "$roofsim" ]] || (cd "$here" && cargo build --release --quiet)
fi
[[ -x "$roofsim" ]] || { echo "sweep-cluster.sh: no roofsim binary at $roofsim (set ROOFSIM)" >&2; exit 2; }

merge() {
    "$roofsim" merge --out "$1" "$1"/shard-*/sweep.csv
}

if [[ "${1:-}" == "--merge" ]]; then
    merge "${2:?$usage}"
    exit 0
fi
sweep=${1:?$usage}
out=${2:?$usage}
shards=${3:-${SLURM_ARRAY_TASK_COUNT:-}}
[[ -n "$shards" ]] || { echo "$usage" >&2; exit 2; }
if [[ -n "${SLURM_ARRAY_TASK_COUNT:-}" && "$shards" != "$SLURM_ARRAY_TASK_COUNT" ]]; then
    echo "sweep-cluster.sh: SHARDS $shards but the array has $SLURM_ARRAY_TASK_COUNT tasks" >&2
    exit 2
fi
workers=${JOBS:-${SLURM_CPUS_PER_TASK:-1}}

run_shard() {
    "$roofsim" sweep --sweep "$sweep" --shard "$1/$shards" --resume --jobs "$workers" \
        --out "$out/shard-$1" > "$out/shard-$1.summary.txt"
}

mkdir -p "$out"
if [[ -n "${SLURM_ARRAY_TASK_ID:-}" ]]; then
    run_shard "$SLURM_ARRAY_TASK_ID"
    exit 0
fi
if command -v parallel >/dev/null; then
    export -f run_shard
    export roofsim sweep out shards workers
    seq 0 $((shards - 1)) | parallel run_shard
else
    cores=$(nproc 2>/dev/null || echo 1)
    for ((shard = 0; shard < shards; shard++)); do
        while (($(jobs -rp | wc -l) >= cores)); do wait -n; done
        run_shard "$shard" &
    done
    while (($(jobs -rp | wc -l) > 0)); do wait -n; done
fi
merge "$out"
