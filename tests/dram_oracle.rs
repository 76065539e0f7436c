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

/// One golden row: its stream and roofsim's gap to DRAMsim3.
struct Gap {
    pattern: String,
    outstanding: u64,
    write_share: f64,
    working_set_bytes: u64,
    /// Roofsim against DRAMsim3, in %.
    percent: f64,
}

/// Every golden row's gap.
fn gaps() -> Vec<Gap> {
    let platform = load_platform(&Source::built_in("u280.toml", &platform_text())).unwrap();
    let design = load_design(
        &Source::built_in("u280-int8.toml", DEFAULT_DESIGN),
        &platform,
    )
    .unwrap();
    let mut rows = csv::Reader::from_reader(GOLDEN.as_bytes());
    rows.records()
        .map(Result::unwrap)
        .map(|row| {
            let number = |i: usize| -> u64 { row[i].parse().unwrap() };
            let write_share: f64 = row[3].parse().unwrap();
            let probe = Probe {
                memory: ProbeMemory::Dram,
                pattern: match &row[0] {
                    "sequential" => Pattern::Sequential,
                    "strided" => Pattern::Strided,
                    _ => Pattern::Random,
                },
                burst_bytes: number(1),
                stride_bytes: number(4),
                working_set_bytes: number(5),
                channels: 1,
                outstanding: number(2),
                write_share,
                switch_distance: 0,
                stripe_bytes: 512,
                hls: false,
                bytes_per_channel: 2 << 20,
            };
            let got = run_probe(&platform, &design, &probe).achieved_bytes_per_s / 1e9;
            let want: f64 = row[6].parse().unwrap();
            Gap {
                pattern: row[0].to_string(),
                outstanding: number(2),
                write_share,
                working_set_bytes: number(5),
                percent: (got / want - 1.0) * 100.0,
            }
        })
        .collect()
}

/// Where requests do not compete the bank timing agrees within 10 %; the README quotes every
/// gap as this run gives it.
#[test]
fn the_bank_model_against_dramsim3() {
    let gaps = gaps();
    let range = |keep: &dyn Fn(&Gap) -> bool| {
        let picked: Vec<f64> = gaps.iter().filter(|g| keep(g)).map(|g| g.percent).collect();
        assert!(!picked.is_empty());
        let high = picked.iter().copied().fold(f64::MIN, f64::max);
        let low = picked.iter().copied().fold(f64::MAX, f64::min);
        format!("−{:.0} … −{:.0} %", -high, -low)
    };
    let whole = 1 << 28;
    let uncontended: Vec<f64> = gaps
        .iter()
        .filter(|g| g.pattern == "random" && g.outstanding <= 4 && g.working_set_bytes >= whole)
        .map(|g| g.percent)
        .collect();
    assert_eq!(uncontended.len(), 2);
    assert!(
        uncontended.iter().all(|gap| gap.abs() <= 10.0),
        "{uncontended:?}"
    );
    let readme = include_str!("../README.md");
    let at = readme.find("**Against DRAMsim3.**").unwrap();
    let text = readme[at..readme[at..].find("\n\n").unwrap() + at].replace('\n', " ");
    for quoted in [
        format!(
            "with 1 and 4 in flight come within {:+.1} % and {:+.1} %",
            uncontended[0], uncontended[1]
        ),
        format!(
            "sequential reads {}",
            range(&|g| g.pattern == "sequential" && g.write_share == 0.0)
        ),
        format!("strided {}", range(&|g| g.pattern == "strided")),
        format!(
            "16–64 in flight {}",
            range(&|g| g.pattern == "random"
                && g.outstanding >= 16
                && g.working_set_bytes >= whole)
        ),
        format!(
            "({} in a 32 KB set)",
            range(&|g| g.pattern == "random" && g.outstanding >= 16 && g.working_set_bytes < whole)
        ),
        format!("25–50 % writes {}", range(&|g| g.write_share > 0.0)),
    ] {
        assert!(
            text.contains(&quoted),
            "the README no longer says {quoted:?}"
        );
    }
}
