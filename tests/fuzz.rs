//! Mutates the shipped configs (byte flips, deleted lines, swapped types, extreme numbers)
//! and runs parse → validate → a bounded simulation (and, for sweeps, a point or two). No
//! input may panic; every rejection is one line naming the file and field (or the option).
//!
//! A test binary of its own: it holds each case to a memory limit read from its process's
//! peak, which tests running beside it in one process would raise.
//!
//! The suite runs a short version. A long run, with counts printed at the end:
//! `FUZZ_SECONDS=600 cargo test --release --test fuzz -- --nocapture`.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use roofsim::config::design::{DEFAULT_DESIGN, MemoryModel, load_design, parse_design};
use roofsim::config::model::{DEFAULT_MODEL, DEFAULT_POLICY, load_model, load_policy};
use roofsim::config::platform::{DEFAULT_PLATFORM, load_platform};
use roofsim::config::{ConfigError, Source};
use roofsim::pipeline::{Error, design_workload, roofline, simulate};
use roofsim::sweep::{KernelCache, Outcome, SweepInputs, evaluate, load_sweep};
use roofsim::workload::{Pipeline, Prefill, WorkloadChoices};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const SWEEP: &str = include_str!("../configs/sweeps/smolvla-int8-int4.toml");
const SPATIAL: &str = include_str!("../configs/designs/u280-int8-spatial.toml");
const MLP_STREAM: &str = include_str!("../configs/designs/u280-int8-mlp-stream.toml");
const GPT2: &str = include_str!("../configs/models/gpt2-medium.config.json");
const BERT: &str = include_str!("../configs/models/bert-base-uncased.config.json");
const BERT_SPATIAL: &str = include_str!("../configs/designs/u280-w4a8-bert-spatial.toml");
/// The default design as an instruction-driven overlay, every `[control]` cost set.
const CONTROLLED: &str = concat!(
    include_str!("../configs/designs/u280-int8.toml"),
    "\n[control]\noperation_issue_cycles = 10\noperation_sync_cycles = 10\n",
    "layer_sync_cycles = 100\ndma_setup_cycles = 32\n"
);

/// Events one fuzz case may simulate: enough for the default model, small enough that a case
/// takes well under a second.
const MAX_EVENTS: u64 = 200_000;

/// The config kinds, each with its shipped text and the name errors must carry.
/// (The dataflow designs and the overlay stand in for the design when they are the one
/// mutated; GPT-2 and BERT stand in for the model, run bare, GPT-2 taking its prompt a token
/// at a time and decoding; the BERT design with its LUT multipliers runs on BERT.)
const KINDS: [(&str, &str); 11] = [
    ("model.json", DEFAULT_MODEL),
    ("policy.json", DEFAULT_POLICY),
    ("platform.toml", DEFAULT_PLATFORM),
    ("design.toml", DEFAULT_DESIGN),
    ("sweep.toml", SWEEP),
    ("spatial.toml", SPATIAL),
    ("mlp-stream.toml", MLP_STREAM),
    ("controlled.toml", CONTROLLED),
    ("gpt2.json", GPT2),
    ("bert.json", BERT),
    ("bert-spatial.toml", BERT_SPATIAL),
];

/// Values that break parsers and arithmetic.
const EXTREMES: [&str; 14] = [
    "0",
    "-1",
    "1e-9",
    "1e308",
    "-1e308",
    "18446744073709551615",
    "9223372036854775808",
    "4294967296",
    "65536",
    "nan",
    "inf",
    "\"text\"",
    "[1, 2]",
    "true",
];

/// Keys whose other values take other code paths (switch geometry, AXI port kinds, links,
/// loop orders, memory models), and the values to try.
const VARIANTS: [(&str, &[&str]); 6] = [
    (
        "channels_per_switch",
        &["1", "3", "5", "7", "12", "20", "32"],
    ),
    ("axi_ports", &["\"per_unit\"", "\"per_channel\""]),
    ("via", &["\"stream\"", "\"buffer\"", "\"hbm\""]),
    ("depth_tiles", &["1", "2", "3", "5", "8"]),
    ("loop_order", &["\"mnk\"", "\"nmk\"", "\"mbnk\""]),
    ("memory", &["\"hbm\"", "\"dram\"", "\"ideal\""]),
];

#[derive(Debug, Clone)]
enum Mutation {
    /// Sets the byte at this fraction of the file to this value.
    FlipByte(f64, u8),
    /// Deletes the line at this fraction of the lines.
    DeleteLine(f64),
    /// Replaces the number at this fraction of the file's numbers with an extreme value.
    Extreme(f64, usize),
    /// Replaces the value of the `key = value` / `"key": value` line at this fraction.
    SwapType(f64, usize),
    /// Gives the [`VARIANTS`] key line at this fraction another of its values.
    Variant(f64, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (0.0..1.0f64, any::<u8>()).prop_map(|(at, byte)| Mutation::FlipByte(at, byte)),
        (0.0..1.0f64).prop_map(Mutation::DeleteLine),
        (0.0..1.0f64, 0..EXTREMES.len()).prop_map(|(at, value)| Mutation::Extreme(at, value)),
        (0.0..1.0f64, 0..EXTREMES.len()).prop_map(|(at, value)| Mutation::SwapType(at, value)),
        (0.0..1.0f64, 0..8usize).prop_map(|(at, value)| Mutation::Variant(at, value)),
    ]
}

fn pick(fraction: f64, len: usize) -> usize {
    ((fraction * len as f64) as usize).min(len.saturating_sub(1))
}

fn apply(text: &str, mutation: &Mutation) -> String {
    match *mutation {
        Mutation::FlipByte(at, byte) => {
            let mut bytes = text.as_bytes().to_vec();
            let index = pick(at, bytes.len());
            bytes[index] = byte;
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Mutation::DeleteLine(at) => {
            let lines: Vec<&str> = text.lines().collect();
            let index = pick(at, lines.len());
            lines
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != index)
                .map(|(_, line)| *line)
                .collect::<Vec<_>>()
                .join("\n")
        }
        Mutation::Extreme(at, value) => {
            // Spans of digits (with a point) are the file's numbers.
            let mut spans = Vec::new();
            let bytes = text.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i].is_ascii_digit() {
                    let start = i;
                    while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                        i += 1;
                    }
                    spans.push((start, i));
                } else {
                    i += 1;
                }
            }
            if spans.is_empty() {
                return text.to_string();
            }
            let (start, end) = spans[pick(at, spans.len())];
            format!("{}{}{}", &text[..start], EXTREMES[value], &text[end..])
        }
        Mutation::SwapType(at, value) => {
            let lines: Vec<&str> = text.lines().collect();
            let with_values: Vec<usize> = (0..lines.len())
                .filter(|&i| lines[i].contains(" = ") || lines[i].contains("\": "))
                .collect();
            if with_values.is_empty() {
                return text.to_string();
            }
            let index = with_values[pick(at, with_values.len())];
            let line = lines[index];
            let (key, rest) = line
                .split_once(" = ")
                .map(|(k, r)| (format!("{k} = "), r))
                .or_else(|| {
                    line.split_once("\": ")
                        .map(|(k, r)| (format!("{k}\": "), r))
                })
                .expect("a line with a value");
            let comma = if rest.trim_end().ends_with(',') {
                ","
            } else {
                ""
            };
            let mut lines: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            lines[index] = format!("{key}{}{comma}", EXTREMES[value]);
            lines.join("\n")
        }
        Mutation::Variant(at, value) => {
            let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
            let keyed: Vec<(usize, &[&str])> = lines
                .iter()
                .enumerate()
                .filter_map(|(i, line)| {
                    let key = line.split_once(" = ")?.0.trim();
                    VARIANTS
                        .iter()
                        .find(|(name, _)| *name == key)
                        .map(|(_, values)| (i, *values))
                })
                .collect();
            if keyed.is_empty() {
                return text.to_string();
            }
            let (index, values) = keyed[pick(at, keyed.len())];
            let key = lines[index]
                .split_once(" = ")
                .expect("a keyed line")
                .0
                .to_string();
            lines[index] = format!("{key} = {}", values[value % values.len()]);
            lines.join("\n")
        }
    }
}

static RUNS: AtomicU64 = AtomicU64::new(0);
static ACCEPTED: AtomicU64 = AtomicU64::new(0);
static REJECTED: AtomicU64 = AtomicU64::new(0);
static SLOWEST_MS: AtomicU64 = AtomicU64::new(0);
static PEAK_BYTES: AtomicU64 = AtomicU64::new(0);

/// A rejection must be one line; a config error must name the mutated file and a field.
fn check_rejection(error: &Error, file: &str) -> Result<(), TestCaseError> {
    let line = error.to_string();
    prop_assert!(!line.contains('\n'), "more than one line: {line}");
    prop_assert!(error.is_user_error(), "an internal error: {line}");
    if let Error::Config(config) = error {
        let (named_file, field) = match config {
            ConfigError::Read { file, .. } => (file.as_str(), "(read)"),
            ConfigError::NotFound { file, .. } => (file.as_str(), "(file)"),
            ConfigError::Parse { file, field, .. } | ConfigError::Invalid { file, field, .. } => {
                (file.as_str(), field.as_str())
            }
        };
        // A valid mutated platform may make the shipped design not fit: then the design is
        // named. Every source here is a `fuzz/` file.
        let _ = file;
        prop_assert!(
            named_file.starts_with("fuzz/") || named_file == "command line",
            "names {named_file}: {line}"
        );
        prop_assert!(!field.is_empty(), "names no field: {line}");
    }
    Ok(())
}

/// Parses, validates and (boundedly) simulates with one config replaced by `mutated`.
fn run_case(kind: usize, mutated: &str) -> Result<(), Error> {
    let source = |index: usize| {
        let (name, shipped) = KINDS[index];
        Source {
            name: format!("fuzz/{name}"),
            text: if index == kind { mutated } else { shipped }.to_string(),
        }
    };
    let platform = load_platform(&source(2))?;
    if kind >= 8 {
        // A bare text model: a short prompt, GPT-2 taking it a token at a time, then
        // generating two tokens; the BERT design on BERT.
        let model = load_model(&source(if kind == 10 { 9 } else { kind }))?;
        let choices = WorkloadChoices {
            batch: 1,
            language_tokens: Some(16),
            state_tokens: Some(0),
            text_layers: Some(2),
            decode_tokens: if kind == 8 { 2 } else { 0 },
            prefill: if kind == 8 {
                Prefill::TokenSerial
            } else {
                Prefill::Parallel
            },
            ..WorkloadChoices::default()
        };
        let design = load_design(&source(if kind == 10 { 10 } else { 3 }), &platform)?;
        roofline(&model, None, &platform, &choices, &[design.precision()])?;
        let analysis = design_workload(&model, None, &platform, &design, &choices)?;
        simulate(analysis, &platform, &design, MAX_EVENTS, None, &|| {})?;
        return Ok(());
    }
    let model = load_model(&source(0))?;
    let policy = load_policy(&source(1))?;
    // The whole robot step, so a mutated policy reaches the action expert.
    let choices = WorkloadChoices {
        batch: 1,
        pipeline: Pipeline::Full,
        ..WorkloadChoices::default()
    };
    if KINDS[kind].0 == "sweep.toml" {
        let spec = load_sweep(&source(4), roofsim::sweep::MAX_POINTS, |_| {
            let base = Source::built_in("u280-int8.toml", DEFAULT_DESIGN);
            Ok((parse_design(&base)?, base.name))
        })?;
        let inputs = SweepInputs {
            spec: &spec,
            choices: &choices,
            model: &model,
            policy: Some(&policy),
            platform: &platform,
            max_events: MAX_EVENTS,
        };
        roofsim::sweep::check_kernel_filter(&inputs)?;
        let cache = KernelCache::default();
        for index in [0, spec.point_count() - 1] {
            if let Outcome::Skipped(reason) = evaluate(&inputs, &spec.point(index), &cache) {
                assert!(!reason.contains('\n'), "{reason}");
            }
        }
        return Ok(());
    }
    let design_kind = if (5..8).contains(&kind) { kind } else { 3 };
    let mut design_source = source(design_kind);
    if KINDS[kind].0 == "platform.toml" {
        // A mutated platform (its switch geometry) meets ports that cross the switch.
        design_source.text = design_source
            .text
            .replace("axi_ports = \"per_channel\"", "axi_ports = \"per_unit\"");
    }
    let design = load_design(&design_source, &platform)?;
    roofline(
        &model,
        Some(&policy),
        &platform,
        &choices,
        &[design.precision()],
    )?;
    let analysis = design_workload(&model, Some(&policy), &platform, &design, &choices)?;
    simulate(analysis, &platform, &design, MAX_EVENTS, None, &|| {})?;
    if KINDS[kind].0 == "platform.toml" {
        // The mutated platform's bank-level timing drives a short run on the bank model.
        let dram = design.modified(&platform, "fuzz", |raw| raw.memory = MemoryModel::Dram)?;
        let short = WorkloadChoices {
            batch: 1,
            cameras: Some(1),
            vision_layers: Some(1),
            text_layers: Some(1),
            ..WorkloadChoices::default()
        };
        let analysis = design_workload(&model, Some(&policy), &platform, &dram, &short)?;
        simulate(analysis, &platform, &dram, MAX_EVENTS, None, &|| {})?;
    }
    Ok(())
}

/// Peak resident memory of this process since the last [`reset_peak_memory`], in bytes
/// (Linux; `None` elsewhere).
fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kilobytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kilobytes * 1024)
}

/// Resets the peak that [`peak_memory_bytes`] reads (Linux 4.0+: `clear_refs` mode 5).
fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// What any accepted input may take, the test harness included.
const MEMORY_LIMIT_BYTES: u64 = 256 << 20;

fn fuzz_case(kind: usize, mutation: &Mutation) -> Result<(), TestCaseError> {
    let (name, shipped) = KINDS[kind];
    let mutated = apply(shipped, mutation);
    let started = Instant::now();
    reset_peak_memory();
    let result = run_case(kind, &mutated);
    if let Some(peak) = peak_memory_bytes() {
        PEAK_BYTES.fetch_max(peak, Ordering::Relaxed);
        prop_assert!(
            peak <= MEMORY_LIMIT_BYTES,
            "peak memory {} MB: {mutated}",
            peak >> 20
        );
    }
    let elapsed = started.elapsed().as_millis() as u64;
    SLOWEST_MS.fetch_max(elapsed, Ordering::Relaxed);
    RUNS.fetch_add(1, Ordering::Relaxed);
    match result {
        Ok(()) => {
            ACCEPTED.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        Err(error) => {
            REJECTED.fetch_add(1, Ordering::Relaxed);
            check_rejection(&error, &format!("fuzz/{name}"))
        }
    }
}

#[test]
fn mutated_configs_never_panic_and_are_refused_in_one_line() {
    let seconds: u64 = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let strategy = (0..KINDS.len(), mutation());
    let mut batch = 0u64;
    loop {
        // A fresh seed per batch: the short run repeats the same cases every time, a long
        // one keeps finding new ones.
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&batch.to_le_bytes());
        let mut runner = TestRunner::new_with_rng(
            Config {
                cases: 48,
                failure_persistence: None,
                ..Config::default()
            },
            TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
        );
        runner
            .run(&strategy, |(kind, mutation)| fuzz_case(kind, &mutation))
            .unwrap();
        batch += 1;
        if Instant::now() >= deadline {
            break;
        }
    }
    println!(
        "fuzz: {} runs, {} accepted, {} rejected in one line, 0 panics; slowest case {} ms, \
         peak memory {} MB",
        RUNS.load(Ordering::Relaxed),
        ACCEPTED.load(Ordering::Relaxed),
        REJECTED.load(Ordering::Relaxed),
        SLOWEST_MS.load(Ordering::Relaxed),
        PEAK_BYTES.load(Ordering::Relaxed) >> 20
    );
}
