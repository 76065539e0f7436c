//! The bank-level HBM against DRAMsim3 (`tools/dramsim3/`: the same request streams on one
//! pseudo-channel at roofsim's own timing and the `row_bank_column` mapping, DRAMsim3's
//! figures kept in `tests/golden/dramsim3-probe.csv`). Where requests do not compete for
//! the scheduler's choice (random reads with one or four in flight over a whole channel) the
//! bank timing must agree within 10 %; the other rows record how far the in-order controller
//! is from DRAMsim3's FR-FCFS with its write queue (the memory issue's work).

use roofsim::config::Source;
use roofsim::config::design::{DEFAULT_DESIGN, load_design};
use roofsim::config::platform::{DEFAULT_PLATFORM, load_platform};
use roofsim::sim::probe::{Pattern, Probe, ProbeMemory, run_probe};

const GOLDEN: &str = include_str!("golden/dramsim3-probe.csv");

/// The platform as the comparison sets it: DRAMsim3's scheduler alone (no controller
/// pipeline after the data, a transaction accepted every cycle) and its mapping.
fn platform_text() -> String {
    let mut text = DEFAULT_PLATFORM.to_string();
    for (field, value) in [
        ("controller_latency_ns", "0.0"),
        ("request_interval_ns", "1.1"),
    ] {
        let start = text.find(&format!("{field} = ")).unwrap();
        let end = start + text[start..].find('\n').unwrap();
        text.replace_range(start..end, &format!("{field} = {value}"));
    }
    let default = "mapping = \"row_bankgroup_bank_column_bankgroup\"";
    assert!(text.contains(default));
    text.replace(default, "mapping = \"row_bank_column\"")
}

#[test]
fn uncontended_random_reads_agree_with_dramsim3() {
    let platform = load_platform(&Source::built_in("u280.toml", &platform_text())).unwrap();
    let design = load_design(
        &Source::built_in("u280-int8.toml", DEFAULT_DESIGN),
        &platform,
    )
    .unwrap();
    let mut rows = csv::Reader::from_reader(GOLDEN.as_bytes());
    let mut checked = 0;
    for row in rows.records().map(Result::unwrap) {
        let number = |i: usize| -> u64 { row[i].parse().unwrap() };
        let (outstanding, working_set) = (number(2), number(5));
        if &row[0] != "random" || outstanding > 4 || working_set < 1 << 28 {
            continue;
        }
        let probe = Probe {
            memory: ProbeMemory::Dram,
            pattern: Pattern::Random,
            burst_bytes: number(1),
            stride_bytes: number(4),
            working_set_bytes: working_set,
            channels: 1,
            outstanding,
            write_share: row[3].parse().unwrap(),
            switch_distance: 0,
            stripe_bytes: 512,
            hls: false,
            bytes_per_channel: 2 << 20,
        };
        let got = run_probe(&platform, &design, &probe).achieved_bytes_per_s / 1e9;
        let want: f64 = row[6].parse().unwrap();
        assert!(
            (got / want - 1.0).abs() <= 0.10,
            "random, {outstanding} in flight: roofsim {got:.3} GB/s, DRAMsim3 {want:.3}"
        );
        checked += 1;
    }
    assert_eq!(checked, 2);
}
