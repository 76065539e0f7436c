//! Whole jobs, as the command line runs them: inputs in, report text and files out.

use crate::config::ConfigError;
use crate::config::design::Design;
use crate::config::model::{ModelSpec, PolicySpec};
use crate::config::platform::Platform;
use crate::config::precision::{Precision, PrecisionPair};
use crate::lower::LowerError;
use crate::report::sweep::SweepCsv;
use crate::report::{self, ReportError, plot::roofline_svg};
use crate::roofline::{RooflineAnalysis, memory_summary};
use crate::sim::{DEFAULT_MAX_EVENTS, SimError, TraceSink, WorkloadSim, simulate_workload};
use crate::sweep::{KernelCache, SweepInputs, prescreen, run_points};
use crate::workload::{
    Encoder, Workload, WorkloadChoices, WorkloadError, WorkloadOptions, build_workload, single_gemm,
};
use std::collections::BTreeMap;
use std::path::Path;

/// Any failure of a job. `Config`, `Workload`, a kernel too large to lower and a `Report`
/// mismatch (a file to resume or merge that belongs to another sweep) are the user's to fix
/// (exit code 2); any other `Lower` error is an internal bug; any other `Report` error is an
/// I/O failure while writing outputs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Workload(#[from] WorkloadError),
    #[error(transparent)]
    Lower(#[from] LowerError),
    #[error(transparent)]
    Sim(#[from] SimError),
    #[error(transparent)]
    Report(#[from] ReportError),
}

impl Error {
    /// Whether the input was at fault (as opposed to the machine).
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            Error::Config(_)
                | Error::Workload(_)
                | Error::Lower(LowerError::TooLarge { .. })
                | Error::Report(ReportError::Mismatch { .. })
        ) || matches!(self, Error::Sim(error) if error.is_user_error())
    }
}

/// The precisions a roofline run covers when none is asked for; the first is shown in tables
/// and plots.
pub fn default_precisions() -> Vec<PrecisionPair> {
    let mut precisions = vec![
        PrecisionPair::uniform(Precision::Int8),
        PrecisionPair {
            weights: Precision::Int4,
            activations: Precision::Int8,
        },
    ];
    precisions.extend(
        [
            Precision::Int4,
            Precision::Fp16,
            Precision::Bf16,
            Precision::Fp32,
        ]
        .map(PrecisionPair::uniform),
    );
    precisions
}

/// A finished roofline job: the text for the terminal and the files for the output folder.
#[derive(Debug)]
pub struct RooflineOutput {
    pub text: String,
    pub files: Vec<(&'static str, Vec<u8>)>,
}

/// Runs the roofline analysis at each precision; nothing is written here.
pub fn roofline(
    model: &ModelSpec,
    policy: Option<&PolicySpec>,
    platform: &Platform,
    choices: &WorkloadChoices,
    precisions: &[PrecisionPair],
) -> Result<RooflineOutput, Error> {
    let analyses = precisions
        .iter()
        .map(|&precision| {
            let workload = build_workload(model, &choices.options(model, policy, precision))?;
            Ok(RooflineAnalysis::new(workload, platform))
        })
        .collect::<Result<Vec<_>, WorkloadError>>()?;
    let primary = &analyses[0];
    let memory = memory_summary(model, &primary.workload, platform);
    let text = report::roofline_text(&analyses, &memory, platform);
    let precision = primary.workload.options.precision;
    let mut files = vec![("roofline.csv", report::roofline_csv(&analyses)?)];
    if model.vision.is_some() {
        let title = format!(
            "Vision encoder + connector on the {} at {precision}",
            platform.name
        );
        let svg = roofline_svg(
            &title,
            primary,
            &[Encoder::Vision, Encoder::Connector],
            platform,
        );
        files.push(("vision_roofline.svg", svg.into_bytes()));
    }
    if model.text.is_some() {
        let title = format!("Text encoder on the {} at {precision}", platform.name);
        let svg = roofline_svg(&title, primary, &[Encoder::Text], platform);
        files.push(("text_roofline.svg", svg.into_bytes()));
    }
    Ok(RooflineOutput { text, files })
}

/// What `simulate` produced: the terminal summary and the in-memory outputs.
#[derive(Debug)]
pub struct SimulateOutput {
    pub text: String,
    pub files: Vec<(&'static str, Vec<u8>)>,
    pub analysis: RooflineAnalysis,
    pub sim: WorkloadSim,
}

/// The workload a design runs: the model with the design's precision and fusion, under the
/// roofline. Fails on workload options that cannot describe a forward pass.
pub fn design_workload(
    model: &ModelSpec,
    policy: Option<&PolicySpec>,
    platform: &Platform,
    design: &Design,
    choices: &WorkloadChoices,
) -> Result<RooflineAnalysis, Error> {
    let choices = WorkloadChoices {
        fusion: design.fusion(),
        ..choices.clone()
    };
    let workload = build_workload(model, &choices.options(model, policy, design.precision()))?;
    Ok(RooflineAnalysis::new(workload, platform))
}

/// Simulates one GEMM (output `m × n`, reduction `k`) alone on one array of `design`.
pub fn simulate_gemm(
    (m, n, k): (u64, u64, u64),
    platform: &Platform,
    design: &Design,
) -> Result<SimulateOutput, Error> {
    let kernel = single_gemm(m, n, k, design.precision())?;
    let workload = Workload {
        options: WorkloadOptions {
            cameras: 1,
            language_tokens: 0,
            state_tokens: 0,
            batch: 1,
            text_layers: 0,
            precision: design.precision(),
            fusion: design.fusion(),
        },
        text_tokens: 0,
        kernels: vec![kernel],
    };
    simulate(
        RooflineAnalysis::new(workload, platform),
        platform,
        design,
        DEFAULT_MAX_EVENTS,
        None,
        &|| {},
    )
}

/// Simulates a workload on a design and renders the results, refusing runs beyond
/// `max_events`. With `trace`, every executed node streams to it as the simulation runs.
pub fn simulate(
    analysis: RooflineAnalysis,
    platform: &Platform,
    design: &Design,
    max_events: u64,
    trace: Option<&mut dyn TraceSink>,
    progress: &(dyn Fn() + Sync),
) -> Result<SimulateOutput, Error> {
    let sim = simulate_workload(
        &analysis.workload,
        design,
        platform,
        max_events,
        trace,
        progress,
    )?;
    let text = report::sim::simulation_text(&analysis, &sim, design, platform);
    let files = vec![
        (
            "kernels.csv",
            report::sim::kernels_csv(&analysis, &sim, design, platform)?,
        ),
        ("channels.csv", report::sim::channels_csv(&sim, design)?),
    ];
    Ok(SimulateOutput {
        text,
        files,
        analysis,
        sim,
    })
}

/// How to run a sweep.
#[derive(Debug, Clone, Copy)]
pub struct SweepOptions {
    pub jobs: usize,
    /// `(i, n)`: run the points whose index is `i` modulo `n`.
    pub shard: (u64, u64),
    /// Simulate only the best K points of the analytical ranking.
    pub prescreen: Option<usize>,
    pub resume: bool,
}

/// Runs a sweep into `out`: `sweep.csv` streamed row by row, then `pareto.svg` and `best.toml`.
/// Returns the printed summary. `progress(done, total)` is called as rows are written.
pub fn sweep(
    inputs: &SweepInputs,
    options: &SweepOptions,
    out: &Path,
    progress: &dyn Fn(u64, u64),
) -> Result<String, Error> {
    let spec = inputs.spec;
    let (shard, shards) = options.shard;
    let indices: Vec<u64> = (0..spec.point_count())
        .filter(|index| index % shards == shard)
        .collect();
    let cache = KernelCache::default();
    let (run, predicted) = match options.prescreen {
        Some(keep) => {
            let predicted = prescreen(inputs, &indices, keep, options.jobs, &cache);
            (predicted.keys().copied().collect(), predicted)
        }
        None => (indices, BTreeMap::new()),
    };
    std::fs::create_dir_all(out).map_err(|source| ReportError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    let csv_path = out.join("sweep.csv");
    let header = report::sweep::sweep_header(spec);
    let (mut csv, done) = SweepCsv::open(&csv_path, &header, &run, options.resume)?;
    let total = run.len() as u64;
    let mut written = done as u64;
    progress(written, total);
    run_points(inputs, &run[done..], options.jobs, &cache, |row| {
        let predicted_s = predicted.get(&row.point.index).copied();
        csv.append(&report::sweep::sweep_record(&row, predicted_s))?;
        written += 1;
        progress(written, total);
        Ok::<(), ReportError>(())
    })?;
    let text = std::fs::read_to_string(&csv_path).map_err(|source| ReportError::Io {
        path: csv_path.clone(),
        source,
    })?;
    let entries = report::sweep::read_sweep(&text, spec)?;
    let mut files = vec![(
        "pareto.svg",
        report::sweep::pareto_svg(
            &format!("Sweep {}: latency against DSPs", spec.source),
            &entries,
        )
        .into_bytes(),
    )];
    if let Some(best) = report::sweep::best_entry(&entries) {
        let point = spec.point(best.point);
        let (mut design, batch) = spec
            .apply(&point)
            .map_err(|rule| ConfigError::invalid(&spec.source, "axes", rule))?;
        design.name = format!("{}-best-{}", design.name, best.point);
        let body = toml::to_string(&design).expect("a design serialises");
        let batch = batch.unwrap_or(inputs.choices.batch);
        let toml_text = format!(
            "# Best point {} of {} ({:.3} ms per step, {} DSPs, batch {batch}).\n# Run it: roofsim simulate --design best.toml --batch {batch}\n{body}",
            best.point, spec.source, best.total_ms, best.dsps
        );
        files.push(("best.toml", toml_text.into_bytes()));
    }
    report::write_all(out, &files)?;
    let mut summary = format!(
        "{} of {} points in this run were already in sweep.csv; simulated {}\n",
        done,
        run.len(),
        run.len() - done
    );
    summary.push_str(&report::sweep::sweep_summary(&entries));
    Ok(summary)
}
