//! Sweeps: many design points over the encoders, simulated in parallel, results in point order.
//!
//! A point is the base design with one value of every axis. Points that do not fit the
//! platform or break a constraint are skipped with the reason. Kernels are simulated through a
//! cache shared by all points, so a kernel whose relevant design parameters did not change
//! between points (vector passes across GEMM tilings, say) is simulated once.

mod cache;
mod constraints;
mod identity;
mod load;
mod spec;

pub use cache::KernelCache;
pub use constraints::Constraints;
pub use identity::{SweepIdentity, SweepMeta};
pub(crate) use load::file_schema;
pub use load::load_sweep;
pub use spec::{Axis, MAX_AXIS_VALUES, MAX_POINTS, Point, SweepSpec};

use crate::config::ConfigError;
use crate::config::design::{Design, validate_design};
use crate::config::model::{ModelSpec, PolicySpec};
use crate::config::platform::Platform;
use crate::config::precision::{Precision, PrecisionPair};

use crate::sim::power::{Range, RunWork, run_power, work_power};
use crate::sim::{
    Attribution, Bottleneck, SimTotals, encoder_totals, event_bound, pipeline_model,
    roofline_seconds, simulate_workload,
};
use crate::workload::{Encoder, Workload, WorkloadChoices};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

/// What the encoders need besides the design.
#[derive(Debug, Clone, Copy)]
pub struct SweepInputs<'a> {
    /// The sweep file.
    pub spec: &'a SweepSpec,
    /// The workload every point starts from; the sweep's `cameras` and `batch` axis override it.
    pub choices: &'a WorkloadChoices,
    /// The model.
    pub model: &'a ModelSpec,
    /// The policy, if the model runs as one.
    pub policy: Option<&'a PolicySpec>,
    /// The platform.
    pub platform: &'a Platform,
    /// A point whose kernels would take more events (graph nodes) than this is skipped.
    pub max_events: u64,
}

/// A simulated point's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct PointResult {
    /// DSP slices.
    pub dsps: u64,
    /// Block RAMs.
    pub bram_blocks: u64,
    /// UltraRAMs.
    pub uram_blocks: u64,
    /// Share of the chip's DSPs.
    pub dsp_share: f64,
    /// Share of the chip's block RAMs.
    pub bram_share: f64,
    /// Share of the chip's UltraRAMs.
    pub uram_share: f64,
    /// Seconds per step of each encoder in [`Encoder::ALL`] order; `None` if not swept.
    pub encoder_seconds: [Option<f64>; Encoder::ALL.len()],
    /// Latency of a step, s.
    pub total_seconds: f64,
    /// Vision latency per camera image, if the vision encoder is swept.
    pub seconds_per_camera: Option<f64>,
    /// Observations per second.
    pub frames_per_s: f64,
    /// Ops per second.
    pub ops_per_s: f64,
    /// Roofline time over simulated time.
    pub efficiency: f64,
    /// What bounds it.
    pub bottleneck: Bottleneck,
    /// Ops of the GEMM kernels (2 per MAC): what the DSPs must do.
    pub gemm_ops: f64,
    /// Cycles of the step by cause (the critical path).
    pub attribution: Attribution,
    /// Board power (low, high), if the platform gives power inputs.
    pub power_w: Option<Range>,
    /// Energy per observation (low, high), joules.
    pub energy_j: Option<Range>,
}

/// How a point ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Simulated, with its figures.
    Simulated(Box<PointResult>),
    /// Does not fit the platform or breaks a constraint.
    Skipped(String),
}

/// A finished point.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The point.
    pub point: Point,
    /// How it ended.
    pub outcome: Outcome,
}

/// The design and workload (the swept encoders' and kernels' part) of a point, or why it is
/// skipped.
pub fn prepare(inputs: &SweepInputs, point: &Point) -> Result<(Design, Workload), String> {
    let (raw, batch) = inputs.spec.apply(point)?;
    let platform = inputs.platform;
    let design =
        validate_design(&raw, &format!("point {}", point.index), platform).map_err(|error| {
            match error {
                ConfigError::Invalid { field, rule, .. } => {
                    format!("{field}: {rule}")
                }
                other => other.to_string(),
            }
        })?;
    let choices = WorkloadChoices {
        cameras: inputs.spec.cameras.or(inputs.choices.cameras),
        batch: batch.unwrap_or(inputs.choices.batch),
        fusion: design.fusion(),
        ..inputs.choices.clone()
    };
    let mut workload = choices
        .build(inputs.model, inputs.policy, design.precision())
        .map_err(|e| e.to_string())?;
    let wanted = &inputs.spec.kernels;
    workload.retain(|k| {
        inputs.spec.encoders.contains(&k.encoder)
            && (wanted.is_empty() || wanted.iter().any(|w| k.is_named(w)))
    });
    // The workload is now the focused part the sweep asks for.
    workload.options.kernels.clone_from(wanted);
    if workload.kernels.is_empty() {
        return Err("no kernel of this point matches `encoders` and `kernels`".into());
    }
    let bill =
        crate::lower::check_mapping(&workload, &design, platform).map_err(|e| e.to_string())?;
    inputs.spec.constraints.check(&design, &bill, platform)?;
    // The same bound `simulate` applies: distinct layers only, each kernel within the limits.
    let events = event_bound(&workload, &design).map_err(|error| error.to_string())?;
    if events > inputs.max_events {
        return Err(format!(
            "would simulate {events} events (limit {}, --max-events)",
            inputs.max_events
        ));
    }
    Ok((design, workload))
}

/// Refuses a `kernels` filter entry that names no kernel of the swept encoders under any
/// fusion the sweep runs (kernel names follow the fusion: `qkv_proj` only exists fused).
pub fn check_kernel_filter(inputs: &SweepInputs) -> Result<(), ConfigError> {
    let spec = inputs.spec;
    if spec.kernels.is_empty() {
        return Ok(());
    }
    let mut fusions = vec![spec.base.fusion];
    if let Some(axis) = spec.axes.iter().find(|axis| axis.name == "fusion") {
        for value in &axis.values {
            let point = Point {
                index: 0,
                values: spec
                    .axes
                    .iter()
                    .map(|a| {
                        if a.name == "fusion" {
                            value
                        } else {
                            &a.values[0]
                        }
                    })
                    .cloned()
                    .collect(),
            };
            if let Ok((raw, _)) = spec.apply(&point) {
                fusions.push(raw.fusion);
            }
        }
    }
    let mut names: Vec<String> = Vec::new();
    for fusion in fusions {
        let choices = WorkloadChoices {
            cameras: spec.cameras.or(inputs.choices.cameras),
            fusion,
            ..inputs.choices.clone()
        };
        let precision = spec
            .base
            .precision
            .parse()
            .unwrap_or(PrecisionPair::uniform(Precision::Int8));
        let Ok(workload) = choices.build(inputs.model, inputs.policy, precision) else {
            continue;
        };
        for kernel in workload.kernels {
            if spec.encoders.contains(&kernel.encoder) && !names.contains(&kernel.label()) {
                names.push(kernel.label());
            }
        }
    }
    for wanted in &spec.kernels {
        let matches =
            |name: &String| name == wanted || name.rsplit('/').next() == Some(wanted.as_str());
        if !names.iter().any(matches) {
            return Err(ConfigError::invalid(
                &spec.source,
                "kernels",
                format!(
                    "`{wanted}` names no kernel of the swept encoders{}",
                    crate::config::did_you_mean(wanted, &names)
                ),
            ));
        }
    }
    Ok(())
}

/// Simulates one point: kernel by kernel through the cache, or, when the point's design
/// overlaps kernels (whose results depend on their neighbours), unit by unit. A skip reason
/// is one line, whatever the user's files hold.
pub fn evaluate(inputs: &SweepInputs, point: &Point, cache: &KernelCache) -> Outcome {
    match simulate_point(inputs, point, cache) {
        Outcome::Skipped(reason) => Outcome::Skipped(crate::config::one_line(&reason)),
        simulated => simulated,
    }
}

fn simulate_point(inputs: &SweepInputs, point: &Point, cache: &KernelCache) -> Outcome {
    let (design, workload) = match prepare(inputs, point) {
        Ok(prepared) => prepared,
        Err(reason) => return Outcome::Skipped(reason),
    };
    let platform = inputs.platform;
    let mut by_encoder = [None::<SimTotals>; Encoder::ALL.len()];
    let mut all = SimTotals::default();
    let power;
    if design.overlap_kernels() {
        let sim = match simulate_workload(
            &workload,
            &design,
            platform,
            inputs.max_events,
            None,
            &|| {},
        ) {
            Ok(sim) => sim,
            Err(error) => return Outcome::Skipped(error.to_string()),
        };
        let (encoders, totals) = encoder_totals(&workload, &sim, &design, platform);
        for (encoder, encoder_totals) in encoders {
            by_encoder[encoder as usize] = Some(encoder_totals);
        }
        all = totals;
        power = run_power(&sim, &design, platform, all.ops, workload.options.batch);
    } else {
        let mut busy = vec![0u64; design.engines().len()];
        for kernel in &workload.kernels {
            let sim = match cache.simulate(kernel, &design, platform) {
                Ok(sim) => sim,
                Err(error) => return Outcome::Skipped(error.to_string()),
            };
            by_encoder[kernel.encoder as usize]
                .get_or_insert_default()
                .add(kernel, &sim, &design, platform);
            all.add(kernel, &sim, &design, platform);
            for (sum, cycles) in busy.iter_mut().zip(&sim.engine_busy_cycles) {
                *sum += cycles;
            }
        }
        let work = RunWork {
            cycles: all.cycles,
            bytes: all.bytes_tiled,
            engine_busy_cycles: &busy,
            ops: all.ops,
            observations: workload.options.batch,
        };
        power = work_power(&work, &design, platform);
    }
    if let Some(reason) = inputs.spec.constraints.check_power(power.as_ref()) {
        return Outcome::Skipped(reason);
    }
    let options = &workload.options;
    let encoder_seconds = by_encoder.map(|totals| totals.map(|t| t.seconds(&design)));
    let total_seconds = all.seconds(&design);
    let (cameras, batch) = (options.cameras, options.batch);
    let resources = design.resources();
    Outcome::Simulated(Box::new(PointResult {
        dsps: resources.dsps,
        bram_blocks: resources.bram_blocks,
        uram_blocks: resources.uram_blocks,
        dsp_share: resources.dsps as f64 / platform.dsp_slices as f64,
        bram_share: resources.bram_blocks as f64 / platform.sram.bram_blocks.max(1) as f64,
        uram_share: resources.uram_blocks as f64 / platform.sram.uram_blocks.max(1) as f64,
        encoder_seconds,
        total_seconds,
        seconds_per_camera: encoder_seconds[Encoder::Vision as usize]
            .map(|s| s / (cameras * batch) as f64),
        frames_per_s: batch as f64 / total_seconds,
        ops_per_s: all.ops / total_seconds,
        efficiency: all.efficiency(&design),
        bottleneck: all.bottleneck(),
        gemm_ops: all.gemm_ops,
        attribution: all.attribution,
        power_w: power.map(|p| p.total_w),
        energy_j: power.map(|p| p.energy_j),
    }))
}

/// Analytical latency of a point (no simulation), or `None` if it is skipped.
/// The bound uses the roofline at the tiled OI with its compute ceiling lowered to what the
/// arrays reach under their fold model for this tiling (fill, drain and padding included),
/// so designs of equal peak but different tiling or fold overlap rank apart.
///
/// A design that overlaps kernels is ranked by the pipeline model of Chen et al. instead
/// ([`pipeline_model`]): its stages' peak rates, streaming between sync points.
pub fn predict_seconds(inputs: &SweepInputs, point: &Point, cache: &KernelCache) -> Option<f64> {
    let (design, workload) = prepare(inputs, point).ok()?;
    if design.overlap_kernels() {
        let model = pipeline_model(&workload, &design);
        let cycles: u64 = model.unit_cycles.iter().sum();
        return Some(cycles as f64 / design.clock_hz());
    }
    Some(
        workload
            .kernels
            .iter()
            .map(|k| {
                let analytic = cache.analytic(k, &design);
                let (_, roofline_s) =
                    roofline_seconds(k, analytic.bytes_tiled, &design, inputs.platform);
                roofline_s.max(analytic.compute_cycles as f64 / design.clock_hz())
            })
            .sum(),
    )
}

/// [`predict_seconds`] of every listed point, on `jobs` threads, in the order listed.
pub fn predict_points(
    inputs: &SweepInputs,
    indices: &[u64],
    jobs: usize,
    cache: &KernelCache,
) -> Vec<Option<f64>> {
    thread_pool(jobs).install(|| {
        use rayon::prelude::*;
        indices
            .par_iter()
            .map(|&index| predict_seconds(inputs, &inputs.spec.point(index), cache))
            .collect()
    })
}

/// Ranks every listed point analytically and keeps the best `keep`: their predicted seconds
/// by point index, for comparing with the simulation afterwards.
pub fn prescreen(
    inputs: &SweepInputs,
    indices: &[u64],
    keep: usize,
    jobs: usize,
    cache: &KernelCache,
) -> BTreeMap<u64, f64> {
    let predicted = predict_points(inputs, indices, jobs, cache);
    let mut ranked: Vec<(u64, f64)> = indices
        .iter()
        .zip(predicted)
        .filter_map(|(&index, seconds)| seconds.map(|s| (index, s)))
        .collect();
    ranked.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    ranked.into_iter().take(keep).collect()
}

fn thread_pool(jobs: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .expect("a thread pool can be built")
}

/// Evaluates `indices` on `jobs` threads and hands each row to `emit` in the order of
/// `indices`, as soon as it and all before it are done. Workers take points in order, so rows
/// stream out steadily. An error from `emit` stops the workers and is returned.
pub fn run_points<E: Send>(
    inputs: &SweepInputs,
    indices: &[u64],
    jobs: usize,
    cache: &KernelCache,
    mut emit: impl FnMut(Row) -> Result<(), E>,
) -> Result<(), E> {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (sender, receiver) = mpsc::channel::<(usize, Row)>();
    let pool = thread_pool(jobs);
    std::thread::scope(|scope| {
        let workers = scope.spawn(|| {
            pool.scope(|pool_scope| {
                for _ in 0..jobs {
                    let sender = sender.clone();
                    let (next, stop) = (&next, &stop);
                    pool_scope.spawn(move |_| {
                        while !stop.load(Ordering::Relaxed) && !crate::cancel::requested() {
                            let position = next.fetch_add(1, Ordering::Relaxed);
                            let Some(&index) = indices.get(position) else {
                                break;
                            };
                            let point = inputs.spec.point(index);
                            let outcome = evaluate(inputs, &point, cache);
                            if sender.send((position, Row { point, outcome })).is_err() {
                                break;
                            }
                        }
                    });
                }
            });
            drop(sender);
        });
        let mut waiting = BTreeMap::new();
        let mut expected = 0;
        let mut result = Ok(());
        for (position, row) in receiver.iter() {
            waiting.insert(position, row);
            while let Some(row) = waiting.remove(&expected) {
                expected += 1;
                if let Err(error) = emit(row) {
                    result = Err(error);
                    break;
                }
            }
            if result.is_err() {
                stop.store(true, Ordering::Relaxed);
                break;
            }
        }
        drop(receiver);
        workers.join().expect("sweep workers do not panic");
        result
    })
}
