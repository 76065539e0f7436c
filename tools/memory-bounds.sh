#!/usr/bin/env bash
# The largest input each shipped design accepts along the knob users scale (language
# tokens, batch, decoded tokens), its peak memory (RSS, GNU time) and time, and the line that
# refuses the next one: the measurements behind lower/size.rs's bytes per node and the
# user guide's "within 256 MB" (docs/src/simulate.md). Figures from a run are kept in
# tools/memory-bounds.txt.
#
#   tools/memory-bounds.sh [roofsim binary]   (default: target/release/roofsim)
set -euo pipefail
cd "$(dirname "$0")/.."
roofsim=${1:-target/release/roofsim}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Whether `roofsim simulate ARGS --KNOB VALUE` is accepted (it then runs).
accepted() {
    local knob=$1 value=$2
    shift 2
    "$roofsim" simulate "$@" "--$knob" "$value" --out "$out/run" >/dev/null 2>&1
}

# Bisects the largest accepted VALUE of KNOB in [LOW, HIGH], then measures it.
bound() {
    local knob=$1 low=$2 high=$3
    shift 3
    while ((low < high)); do
        local mid=$(((low + high + 1) / 2))
        if accepted "$knob" "$mid" "$@"; then low=$mid; else high=$((mid - 1)); fi
    done
    local peak
    peak=$(/usr/bin/time -f "%M KB %e s" "$roofsim" simulate "$@" "--$knob" "$low" \
        --out "$out/run" 2>&1 >/dev/null | tail -1)
    local refusal
    refusal=$("$roofsim" simulate "$@" "--$knob" "$((low + 1))" --out "$out/run" 2>&1 \
        >/dev/null | head -1 | cut -c1-160 || true)
    printf '%s --%s %s: %s\n    --%s %s: %s\n' "$*" "$knob" "$low" "$peak" "$knob" \
        "$((low + 1))" "$refusal"
}

for design in configs/designs/u280-int8.toml configs/designs/u280-int4.toml \
    configs/designs/u280-int8-spatial.toml configs/designs/u280-int4-spatial.toml; do
    bound language-tokens 1 65536 --design "$design" --pipeline full
    bound batch 1 65536 --design "$design"
done
bound language-tokens 1 65536 --design configs/designs/u280-int8-mlp-stream.toml
bound language-tokens 1 512 --design configs/designs/u280-w4a8-bert-spatial.toml \
    --model configs/models/bert-base-uncased.config.json
for design in configs/designs/u280-fp16-gemv.toml configs/designs/u280-w4a8-gemv.toml; do
    bound decode 1 65536 --design "$design" --model configs/models/llama-2-7b.config.json \
        --language-tokens 128 --text-layers 1
done
