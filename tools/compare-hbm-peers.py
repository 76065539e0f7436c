#!/usr/bin/env python3
"""DRAMsim3 and Ramulator 2 as test oracles for roofsim's bank-level HBM (`memory = "dram"`).

Runs the request streams of `roofsim probe hbm` on one pseudo-channel at roofsim's own timing
through a peer's probe (tools/dramsim3/probe.cc against DRAMsim3, umd-memsys/DRAMsim3;
tools/ramulator2/probe.cpp against Ramulator 2, CMU-SAFARI/ramulator2 at tag v2.0a; each peer
built from its public repository outside this one, with its configuration beside the probe),
and writes what the peer gives, beside what roofsim gives at the time, to
tests/golden/PEER-probe.csv, which tests/integration/dram_oracle.rs holds the bank model to.
Both sides use the `row_bank_column` mapping (neither peer can split the bank group around
the column as the HBM IP's default does), without the controller pipeline the peers do not
model, and take one request per AXI cycle. Each peer's queues hold as many requests as
roofsim's (the platform's `queue_depth` reads and `write_queue_depth` writes): the peers
queue 32 B column transactions, so a stream of B-byte requests gets B / 32 of them per
request (DRAMsim3's `trans_queue_size`; Ramulator 2's read and write buffers, through the
`buffer_size` that tools/ramulator2/buffer-size.patch adds to its generic controller, whose
buffers are otherwise fixed at 32). With 32 columns whatever the burst (the golden files
before December 2026), a peer looked half as far ahead as roofsim at 64 B, a sixteenth at
512 B.

Building the peers (g++ and cmake; TOOLS is this folder), in a clone of each:
    DRAMsim3: make libdramsim3.so; g++ -O3 -std=c++11 -DFMT_HEADER_ONLY=1 -Isrc
        -Iext/fmt/include -Iext/headers -ITOOLS -o dramsim3-probe TOOLS/dramsim3/probe.cc
        src/*.o
    Ramulator 2 at v2.0a, with yaml-cpp 0.7.0, spdlog v1.11.0 and argparse v2.9 cloned into
        ext/ (its CMake would fetch them): git apply TOOLS/ramulator2/buffer-size.patch;
        cmake -B build -DCMAKE_BUILD_TYPE=Release -DFETCHCONTENT_FULLY_DISCONNECTED=ON;
        make -C build ramulator; g++ -O3 -std=c++20 -Isrc -Iext/yaml-cpp/include
        -Iext/spdlog/include -ITOOLS -o ramulator2-probe TOOLS/ramulator2/probe.cpp -L.
        -lramulator -Wl,-rpath,$PWD

    tools/compare-hbm-peers.py PEER PEER_PROBE [ROOFSIM_BINARY] [--queue-depth N]
        (PEER: dramsim3, ramulator2). With --queue-depth, both sides' read and write queues
        hold N requests (roofsim's watermarks at Ramulator 2's 0.8 and 0.2 of them) and the
        figures go to tests/golden/PEER-probe-queue-N.csv.
"""
import argparse
import csv
import math
import os
import subprocess
import tempfile
import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CONFIGS = {
    "dramsim3": os.path.join(HERE, "dramsim3", "u280-pseudo-channel.ini"),
    "ramulator2": os.path.join(HERE, "ramulator2", "u280-pseudo-channel.yaml"),
}
BYTES = 2 * 1024 * 1024
# What one of the peers' transactions moves: a 32 B column, as both configurations beside
# their probes set the pseudo-channel (64 bits, BL4).
PEER_COLUMN_BYTES = 32
LARGE = 256 * 1024 * 1024


def cases():
    """(pattern, burst bytes, outstanding, write share, stride, working set)."""
    for burst in (32, 64, 128, 256, 512):
        yield ("sequential", burst, 32, 0.0, 4096, LARGE)
    for burst in (32, 128, 512):
        yield ("strided", burst, 32, 0.0, 4096, LARGE)
    for working_set in (32 * 1024, LARGE):
        for outstanding in (1, 4, 16, 32, 64):
            yield ("random", 32, outstanding, 0.0, 4096, working_set)
    for burst in (64, 512):
        for share in (0.25, 0.5):
            yield ("sequential", burst, 32, share, 4096, LARGE)


def platform_queues():
    """The requests roofsim's read and write queues each hold on the platform (equal)."""
    with open(os.path.join(ROOT, "configs", "platforms", "u280.toml"), "rb") as f:
        dram = tomllib.load(f)["hbm"]["dram"]
    assert dram["queue_depth"] == dram["write_queue_depth"]
    assert watermarks(dram["queue_depth"]) == (dram["write_high_watermark"],
                                               dram["write_low_watermark"])
    return dram["queue_depth"]


def watermarks(depth):
    """Roofsim's write watermarks for queues of `depth` as Ramulator 2's generic controller
    sets them: writes once more than 0.8 of the buffer wait, back below 0.2 of it."""
    return int(0.8 * depth) + 1, math.ceil(0.2 * depth) - 1


def stream_config(name, case, depth, work):
    """The peer's configuration with its queues sized for the stream: as many requests of
    the stream's burst as roofsim's queues of `depth` hold, in 32 B column transactions."""
    with open(CONFIGS[name]) as f:
        text = f.read()
    columns = depth * case[1] // PEER_COLUMN_BYTES
    field, value = {
        "dramsim3": ("trans_queue_size = 32", f"trans_queue_size = {columns}"),
        "ramulator2": ("    impl: Generic\n", f"    impl: Generic\n    buffer_size: {columns}\n"),
    }[name]
    assert text.count(field) == 1
    config = os.path.join(work, os.path.basename(CONFIGS[name]))
    with open(config, "w") as f:
        f.write(text.replace(field, value))
    return config


def peer(probe, config, case):
    pattern, burst, outstanding, share, stride, working_set = case
    out = subprocess.run([probe, config, pattern, str(burst), str(outstanding), str(share),
                          str(stride), str(working_set), str(BYTES)],
                         check=True, capture_output=True, text=True).stdout.splitlines()[-1].split()
    return float(out[0]), float(out[1])


def roofsim(binary, platform, case, work):
    pattern, burst, outstanding, share, stride, working_set = case
    out = os.path.join(work, "roofsim")
    subprocess.run([binary, "probe", "hbm", "--platform", platform, "--memory", "dram",
                    "--channels", "1", "--pattern", pattern, "--burst-bytes", str(burst),
                    "--outstanding", str(outstanding), "--write-share", str(share),
                    "--stride-bytes", str(stride), "--working-set-bytes", str(working_set),
                    "--out", out], check=True, capture_output=True)
    with open(os.path.join(out, "probe.csv")) as f:
        row = next(csv.DictReader(f))
    return float(row["achieved_gb_per_s"]), float(row["mean_latency_ns"])


def comparable_platform(work, depth):
    """The default platform as the peers model it: the scheduler alone (no controller
    pipeline after the data, a transaction accepted every cycle) on `row_bank_column`, with
    read and write queues of `depth` requests."""
    platform = os.path.join(work, "u280-row-bank-column.toml")
    with open(os.path.join(ROOT, "configs", "platforms", "u280.toml")) as f:
        text = f.read()
    default = 'mapping = "row_bankgroup_bank_column_bankgroup"'
    assert default in text
    high, low = watermarks(depth)
    for field, value in (("controller_latency_ns", "0.0"), ("request_interval_ns", "1.1"),
                         ("queue_depth", depth), ("write_queue_depth", depth),
                         ("write_high_watermark", high), ("write_low_watermark", low)):
        start = text.index(f"\n{field} = ", text.index("\n[hbm.dram]\n")) + 1
        text = text[:start] + f"{field} = {value}" + text[text.index("\n", start):]
    with open(platform, "w") as f:
        f.write(text.replace(default, 'mapping = "row_bank_column"'))
    return platform


def main():
    parser = argparse.ArgumentParser(usage=__doc__)
    parser.add_argument("peer", choices=sorted(CONFIGS))
    parser.add_argument("peer_probe")
    parser.add_argument("roofsim_binary", nargs="?",
                        default=os.path.join(ROOT, "target", "release", "roofsim"))
    parser.add_argument("--queue-depth", type=int)
    args = parser.parse_args()
    name, probe, roofsim_binary = args.peer, os.path.abspath(args.peer_probe), args.roofsim_binary
    if args.queue_depth is not None and args.queue_depth < 1:
        parser.error("--queue-depth: a queue holds at least one request")
    depth = platform_queues() if args.queue_depth is None else args.queue_depth
    golden = f"{name}-probe.csv" if args.queue_depth is None else f"{name}-probe-queue-{depth}.csv"
    rows = []
    with tempfile.TemporaryDirectory() as work:
        platform = comparable_platform(work, depth)
        for case in cases():
            p_gbps, p_ns = peer(probe, stream_config(name, case, depth, work), case)
            r_gbps, r_ns = roofsim(roofsim_binary, platform, case, work)
            rows.append(list(case) + [p_gbps, p_ns, r_gbps, r_ns])
            print(*case, f"{name} {p_gbps:.3f} GB/s {p_ns:.1f} ns",
                  f"roofsim {r_gbps:.3f} GB/s {r_ns:.1f} ns",
                  f"{(r_gbps / p_gbps - 1) * 100:+.1f} %")
    with open(os.path.join(ROOT, "tests", "golden", golden), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["pattern", "burst_bytes", "outstanding", "write_share",
                         "stride_bytes", "working_set_bytes", f"{name}_gb_per_s",
                         f"{name}_latency_ns", "roofsim_gb_per_s", "roofsim_latency_ns"])
        writer.writerows(rows)


if __name__ == "__main__":
    main()
