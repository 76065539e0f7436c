#!/usr/bin/env bash
# tools/sweep-cluster.sh under a real single-node Slurm: installs Debian's slurm-wlm and
# munge when missing (as root, as on CI), starts munged, slurmctld and slurmd on this machine
# with a configuration of their own in a temporary folder, submits a sweep as 8-, 3- and
# 5-task arrays from a folder outside the checkout, each followed by its merge as a
# dependent job (`--dependency=afterok`), and checks every merged sweep.csv, best.toml and
# pareto.svg byte for byte against one `roofsim sweep` of the same file. Stops the daemons
# it started. About half a minute once installed.
# Usage: tools/slurm-check.sh   (from anywhere; builds the debug binary if needed)
set -euo pipefail
checkout=$(cd "$(dirname "$0")/.." && pwd)

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi
(cd "$checkout" && cargo build --quiet)
export ROOFSIM="${CARGO_TARGET_DIR:-$checkout/target}/debug/roofsim"
[[ "$ROOFSIM" = /* ]] || ROOFSIM="$checkout/$ROOFSIM"

work=$(mktemp -d)
started=()
stop() {
    for pid in "${started[@]}"; do kill "$pid" 2>/dev/null || true; done
    # The daemons are children (munged is not: it forks away) and may still be writing.
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap stop EXIT

# munge: the authentication every Slurm message carries (its key comes with the package).
if ! munge -n >/dev/null 2>&1; then
    mkdir -p /run/munge "$work/munge" && chown munge:munge /run/munge "$work/munge"
    chmod 755 "$work"
    runuser -u munge -- /usr/sbin/munged --pid-file="$work/munge/munged.pid"
    started+=("$(cat "$work/munge/munged.pid")")
fi

host=$(hostname -s)
export SLURM_CONF="$work/slurm.conf"
mkdir -p "$work/state" "$work/spool"
cat > "$SLURM_CONF" <<CONF
ClusterName=roofsim-check
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=check Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
slurmctld -D >/dev/null 2>&1 &
started+=("$!")
slurmd -D >/dev/null 2>&1 &
started+=("$!")
for _ in $(seq 60); do
    sinfo -h -o %t 2>/dev/null | grep -q idle && break
    sleep 1
done
sinfo -h -o %t | grep -q idle || { echo "slurm-check: the node never came up" >&2; cat "$work"/*.log >&2; exit 1; }

# A sweep file in the submit folder (12 points, one kernel: quick in a debug build).
submit="$work/submit"
mkdir -p "$submit"
cd "$submit"
cat > sweep.toml <<'SWEEP'
base_design = "u280-int8"
encoders = ["vision"]
kernels = ["vision/fc2"]
cameras = 1
[axes]
array_count = [1, 2, 3]
tm = [128, 256, 512, 1024]
SWEEP
"$ROOFSIM" sweep --sweep sweep.toml --out one >/dev/null 2>&1
status=0
for shards in 8 3 5; do
    job=$(sbatch --parsable --array=0-$((shards - 1)) --output="shards-$shards-%a.log" \
        "$checkout/tools/sweep-cluster.sh" sweep.toml "out-$shards")
    merge=$(sbatch --parsable --dependency="afterok:$job" --output="merge-$shards.log" \
        "$checkout/tools/sweep-cluster.sh" --merge "out-$shards")
    for _ in $(seq 300); do
        [[ -z "$(squeue -h -j "$job,$merge" 2>/dev/null)" ]] && break
        sleep 1
    done
    for file in sweep.csv best.toml pareto.svg; do
        if cmp -s "one/$file" "out-$shards/$file"; then
            echo "slurm-check: $shards shards: $file identical to one run"
        else
            echo "slurm-check: $shards shards: $file differs from one run" >&2
            status=1
        fi
    done
done
if ((status != 0)); then
    cat ./*.log "$work"/*.log >&2
fi
exit $status
