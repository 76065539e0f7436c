#!/usr/bin/env python3
"""DRAMsim3 as a test oracle for roofsim's bank-level HBM (`memory = "dram"`).

Builds DRAMsim3 from a checkout of umd-memsys/DRAMsim3 (the public repository; not needed in
CI), compiles `probe.cc` against it, runs the request streams of `roofsim probe hbm` on one
pseudo-channel at roofsim's own timing (`u280-pseudo-channel.ini`), and writes what DRAMsim3
gives, beside what roofsim gives at the time, to tests/golden/dramsim3-probe.csv, which
tests/integration/dram_oracle.rs holds the bank model to. Both sides use the `row_bank_column` mapping
(DRAMsim3 cannot split the bank group around the column as the HBM IP's default does).

    tools/dramsim3/compare.py DRAMSIM3_SOURCE [ROOFSIM_BINARY]
"""
import csv
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
GOLDEN = os.path.join(ROOT, "tests", "golden", "dramsim3-probe.csv")
BYTES = 2 * 1024 * 1024
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


def build(source, work):
    subprocess.run(["make", "-C", source, "-j2", "libdramsim3.so"], check=True,
                   stdout=subprocess.DEVNULL)
    objects = [os.path.join(source, "src", name) for name in sorted(os.listdir(
        os.path.join(source, "src"))) if name.endswith(".o") and name not in ("main.o", "cpu.o")]
    binary = os.path.join(work, "probe")
    subprocess.run(["g++", "-O2", "-std=c++11", "-I" + os.path.join(source, "src"),
                    "-I" + os.path.join(source, "ext", "fmt", "include"),
                    "-I" + os.path.join(source, "ext", "headers"), "-DFMT_HEADER_ONLY=1",
                    "-o", binary, os.path.join(HERE, "probe.cc")] + objects, check=True)
    return binary


def dramsim3(binary, case):
    pattern, burst, outstanding, share, stride, working_set = case
    out = subprocess.run([binary, os.path.join(HERE, "u280-pseudo-channel.ini"), pattern,
                          str(burst), str(outstanding), str(share), str(stride),
                          str(working_set), str(BYTES)],
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


def main():
    source = sys.argv[1]
    roofsim_binary = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        ROOT, "target", "release", "roofsim")
    with tempfile.TemporaryDirectory() as work:
        binary = build(source, work)
        platform = os.path.join(work, "u280-row-bank-column.toml")
        with open(os.path.join(ROOT, "configs", "platforms", "u280.toml")) as f:
            text = f.read()
        default = 'mapping = "row_bankgroup_bank_column_bankgroup"'
        assert default in text
        # DRAMsim3 models the DRAM and its scheduler only: no controller pipeline after
        # the data, and a transaction accepted every cycle.
        for field, value in (("controller_latency_ns", "0.0"), ("request_interval_ns", "1.1")):
            start = text.index(field + " = ", text.index("\n[hbm.dram]\n"))
            text = text[:start] + f"{field} = {value}" + text[text.index("\n", start):]
        with open(platform, "w") as f:
            f.write(text.replace(default, 'mapping = "row_bank_column"'))
        rows = []
        for case in cases():
            d_gbps, d_ns = dramsim3(binary, case)
            r_gbps, r_ns = roofsim(roofsim_binary, platform, case, work)
            rows.append(list(case) + [d_gbps, d_ns, r_gbps, r_ns])
            print(*case, f"dramsim3 {d_gbps:.3f} GB/s {d_ns:.1f} ns",
                  f"roofsim {r_gbps:.3f} GB/s {r_ns:.1f} ns",
                  f"{(r_gbps / d_gbps - 1) * 100:+.1f} %")
    with open(GOLDEN, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["pattern", "burst_bytes", "outstanding", "write_share",
                         "stride_bytes", "working_set_bytes", "dramsim3_gb_per_s",
                         "dramsim3_latency_ns", "roofsim_gb_per_s", "roofsim_latency_ns"])
        writer.writerows(rows)


if __name__ == "__main__":
    main()
