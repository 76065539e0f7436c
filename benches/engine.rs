//! Speed: engine events per second on a many-tile GEMM (and DRAM column accesses per second
//! on the bank-level HBM, there and on two of the DRAMsim3 comparison's streams), whole-model
//! runs of the default design (on either HBM model) and the spatial design, each on one and
//! on two threads, and Llama-2-7B's long prefill and decode (all in simulated events per
//! second), and a sweep on one and two jobs. The runs the 5 M events per CPU-second target
//! names (default, spatial, Llama-2-7B prefill) are also measured in the process's CPU time
//! on one thread (`simulate_cpu`), which a loaded machine disturbs far less than wall time.

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use roofsim::config::Source;
use roofsim::config::design::{DEFAULT_DESIGN, Design, MemoryModel, load_design, parse_design};
use roofsim::config::model::{ModelSpec, default_model, default_policy, load_model};
use roofsim::config::platform::{Platform, default_platform};
use roofsim::config::policy::PolicySpec;
use roofsim::lower::lower;
use roofsim::pipeline::{SimulateOutput, design_workload, simulate as simulate_model};
use roofsim::sim::probe::{Pattern, Probe, ProbeMemory, run_probe};
use roofsim::sim::{NullSink, simulate};
use roofsim::sweep::{KernelCache, SweepInputs, load_sweep, run_points};
use roofsim::workload::WorkloadChoices;
use roofsim::workload::single_gemm;
use std::hint::black_box;

fn engine(c: &mut Criterion) {
    let platform = default_platform();
    let design = load_design(&Source::built_in("d", DEFAULT_DESIGN), &platform)
        .unwrap()
        .modified(&platform, "64-cube tiles", |raw| {
            (raw.tiling.tm, raw.tiling.tn, raw.tiling.tk) = (64, 64, 64)
        })
        .unwrap();
    let kernel = single_gemm(1024, 1024, 2048, design.precision()).unwrap();
    let graph = lower(&kernel, &design).unwrap();
    let events = simulate(&graph, "gemm", &design, &platform, &mut NullSink)
        .unwrap()
        .events;
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(events));
    group.sample_size(10);
    group.bench_function("gemm_1024x1024x2048_tiles_64", |b| {
        b.iter(|| simulate(black_box(&graph), "gemm", &design, &platform, &mut NullSink).unwrap())
    });
    group.finish();

    // The same GEMM on the bank-level HBM, lowered for it (its transfers carry channel
    // addresses); its events are DRAM column accesses (32 B each, every one timed against
    // the bank, bank-group and bus rules).
    let dram = design
        .modified(&platform, "bank-level HBM", |raw| {
            raw.memory = MemoryModel::Dram
        })
        .unwrap();
    let graph = lower(&kernel, &dram).unwrap();
    let bytes: u64 = simulate(&graph, "gemm", &dram, &platform, &mut NullSink)
        .unwrap()
        .channels
        .iter()
        .map(|channel| channel.bytes)
        .sum();
    let mut group = c.benchmark_group("dram");
    group.throughput(Throughput::Elements(bytes / 32));
    group.sample_size(10);
    group.bench_function("gemm_1024x1024x2048_tiles_64_column_accesses", |b| {
        b.iter(|| simulate(black_box(&graph), "gemm", &dram, &platform, &mut NullSink).unwrap())
    });
    group.finish();

    // One pseudo-channel, 32 requests in flight, 2 MB: sequential 64 B and random 32 B
    // reads over 256 MB (rows of tests/golden/dramsim3-probe.csv and ramulator2-probe.csv,
    // whose accesses per second on DRAMsim3 and Ramulator 2 the guide quotes beside these).
    let mut group = c.benchmark_group("dram_probe");
    for (pattern, burst_bytes) in [(Pattern::Sequential, 64), (Pattern::Random, 32)] {
        let probe = Probe {
            memory: ProbeMemory::Dram,
            pattern,
            burst_bytes,
            stride_bytes: 4096,
            working_set_bytes: 256 << 20,
            channels: 1,
            outstanding: 32,
            write_share: 0.0,
            switch_distance: 0,
            stripe_bytes: 512,
            hls: false,
            bytes_per_channel: 2 << 20,
        };
        group.throughput(Throughput::Elements(probe.bytes_per_channel / 32));
        group.bench_function(
            format!("{}_{burst_bytes}_column_accesses", pattern.name()),
            |b| b.iter(|| run_probe(&platform, &design, black_box(&probe))),
        );
    }
    group.finish();
}

/// The whole model (3 cameras) on the default temporal design and on the spatial dataflow
/// design (layers overlapping, every layer simulated), on one thread and on two.
fn whole_model(c: &mut Criterion) {
    let platform = default_platform();
    let model = default_model();
    let policy = default_policy();
    let choices = one_observation();
    let mut group = c.benchmark_group("simulate");
    group.sample_size(10);
    let dram_design = DEFAULT_DESIGN.replace("memory = \"hbm\"", "memory = \"dram\"");
    for (name, text) in [
        ("default_design", DEFAULT_DESIGN),
        ("default_design_dram", dram_design.as_str()),
        ("spatial_design", SPATIAL_DESIGN),
    ] {
        let design = load_design(&Source::built_in(name, text), &platform).unwrap();
        let run = || whole_run((&model, Some(&policy)), &platform, &design, &choices);
        // In simulated events, so criterion reports the whole run's events per second.
        group.throughput(Throughput::Elements(run().sim.events));
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            group.bench_function(format!("smolvla_3_cameras_{name}_threads_{threads}"), |b| {
                b.iter(|| pool.install(run))
            });
        }
    }
    group.finish();
}

const SPATIAL_DESIGN: &str = include_str!("../configs/designs/u280-int8-spatial.toml");

/// One whole `simulate` run of `model` (with its policy, if any) on `design`.
fn whole_run(
    (model, policy): (&ModelSpec, Option<&PolicySpec>),
    platform: &Platform,
    design: &Design,
    choices: &WorkloadChoices,
) -> SimulateOutput {
    let workload = design_workload(model, policy, platform, design, choices).unwrap();
    let max_events = roofsim::sim::DEFAULT_MAX_EVENTS;
    simulate_model(workload, platform, design, max_events, None, &|| {}).unwrap()
}

/// Llama-2-7B, the text model the issue's long runs take.
fn llama_2_7b() -> ModelSpec {
    load_model(&Source::built_in(
        "llama-2-7b.config.json",
        include_str!("../configs/models/llama-2-7b.config.json"),
    ))
    .unwrap()
}

/// One observation of smolVLA's default policy (3 cameras).
fn one_observation() -> WorkloadChoices {
    WorkloadChoices {
        batch: 1,
        ..WorkloadChoices::default()
    }
}

/// A Llama-2-7B 4,096-token prefill (the issue's case).
fn prefill_4096() -> WorkloadChoices {
    WorkloadChoices {
        batch: 1,
        language_tokens: Some(4096),
        ..WorkloadChoices::default()
    }
}

/// Whole runs of a text model, Llama-2-7B (the issue's cases): a 4,096-token prefill on the
/// default design, and 256 tokens decoded after a 128-token prompt through one layer on the
/// GEMV design; throughput in simulated events, so criterion reports events per second.
fn text_model(c: &mut Criterion) {
    let platform = default_platform();
    let model = llama_2_7b();
    let gemv = include_str!("../configs/designs/u280-fp16-gemv.toml");
    let prefill = prefill_4096();
    let decode = WorkloadChoices {
        batch: 1,
        language_tokens: Some(128),
        text_layers: Some(1),
        decode_tokens: 256,
        ..WorkloadChoices::default()
    };
    let mut group = c.benchmark_group("simulate_text");
    group.sample_size(10);
    for (name, design_text, choices) in [
        ("llama_2_7b_prefill_4096", DEFAULT_DESIGN, &prefill),
        ("llama_2_7b_decode_256", gemv, &decode),
    ] {
        let design = load_design(&Source::built_in(name, design_text), &platform).unwrap();
        let run = || whole_run((&model, None), &platform, &design, choices);
        group.throughput(Throughput::Elements(run().sim.events));
        group.bench_function(name, |b| b.iter(run));
    }
    group.finish();
}

/// A 48-point slice of configs/sweeps/vision-tiling.toml, on 1 and on 2 threads.
fn sweep(c: &mut Criterion) {
    let platform = default_platform();
    let model = default_model();
    let policy = default_policy();
    let text = r#"
encoders = ["vision"]
[axes]
array_count = [2, 3]
array_shape = ["32x32", "64x64"]
tm = [128, 256, 512]
tk = [256, 512]
slots = [1, 2]
"#;
    let spec = load_sweep(
        &Source::built_in("bench-sweep.toml", text),
        roofsim::sweep::MAX_POINTS,
        |_| {
            let source = Source::built_in("u280-int8.toml", DEFAULT_DESIGN);
            Ok((parse_design(&source)?, source.name))
        },
    )
    .unwrap();
    let choices = WorkloadChoices {
        batch: 1,
        ..WorkloadChoices::default()
    };
    let inputs = SweepInputs {
        spec: &spec,
        choices: &choices,
        model: &model,
        policy: Some(&policy),
        platform: &platform,
        max_events: roofsim::sim::DEFAULT_MAX_EVENTS,
    };
    let indices: Vec<u64> = (0..spec.point_count()).collect();
    let mut group = c.benchmark_group("sweep");
    group.sample_size(10);
    group.throughput(Throughput::Elements(indices.len() as u64));
    for jobs in [1, 2] {
        group.bench_function(format!("vision_48_points_jobs_{jobs}"), |b| {
            b.iter(|| {
                let cache = KernelCache::default();
                let mut rows = 0;
                run_points(&inputs, &indices, jobs, &cache, |_| {
                    rows += 1;
                    Ok::<(), ()>(())
                })
                .unwrap();
                rows
            })
        });
    }
    group.finish();
}

/// The CPU time the process spends, all threads together (`CLOCK_PROCESS_CPUTIME_ID`),
/// in nanoseconds: on one simulation thread, the run's own CPU time.
struct ProcessCpuTime;

fn process_cpu_nanos() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `clock_gettime` writes the one timespec it is given, which lives here.
    #[allow(unsafe_code)]
    let status = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "the process CPU clock is readable");
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

impl Measurement for ProcessCpuTime {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        process_cpu_nanos()
    }

    fn end(&self, start: u64) -> u64 {
        process_cpu_nanos() - start
    }

    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }

    fn zero(&self) -> u64 {
        0
    }

    fn to_f64(&self, nanos: &u64) -> f64 {
        *nanos as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

/// CPU milliseconds, and throughput in millions per CPU-second.
struct CpuFormatter;

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, _typical_nanos: f64, values: &mut [f64]) -> &'static str {
        for value in values {
            *value /= 1e6;
        }
        "ms CPU"
    }

    fn scale_throughputs(
        &self,
        _typical_nanos: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let count = match *throughput {
            Throughput::Bits(count)
            | Throughput::Bytes(count)
            | Throughput::BytesDecimal(count)
            | Throughput::Elements(count)
            | Throughput::ElementsAndBytes {
                elements: count, ..
            } => count as f64,
        };
        for value in values {
            *value = count * 1e3 / *value;
        }
        "M/CPU-s"
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

/// The whole runs the 5 M events per CPU-second target names, on one thread, in CPU time:
/// criterion's throughput is the run's simulated events per CPU-second.
fn whole_runs_cpu(c: &mut Criterion<ProcessCpuTime>) {
    let platform = default_platform();
    let smolvla = default_model();
    let policy = default_policy();
    let llama = llama_2_7b();
    let observation = one_observation();
    let prefill = prefill_4096();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let mut group = c.benchmark_group("simulate_cpu");
    group.sample_size(10);
    for (name, design_text, model, policy, choices) in [
        (
            "default_design",
            DEFAULT_DESIGN,
            &smolvla,
            Some(&policy),
            &observation,
        ),
        (
            "spatial_design",
            SPATIAL_DESIGN,
            &smolvla,
            Some(&policy),
            &observation,
        ),
        (
            "llama_2_7b_prefill_4096",
            DEFAULT_DESIGN,
            &llama,
            None,
            &prefill,
        ),
    ] {
        let design = load_design(&Source::built_in(name, design_text), &platform).unwrap();
        let run = || whole_run((model, policy), &platform, &design, choices);
        group.throughput(Throughput::Elements(run().sim.events));
        group.bench_function(name, |b| b.iter(|| pool.install(run)));
    }
    group.finish();
}

criterion_group!(benches, engine, whole_model, text_model, sweep);
criterion_group! {
    name = cpu;
    config = Criterion::default().with_measurement(ProcessCpuTime);
    targets = whole_runs_cpu
}
criterion_main!(benches, cpu);
