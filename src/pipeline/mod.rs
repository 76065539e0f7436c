//! Whole jobs, as the command line runs them: inputs in, report text and files out.

mod inputs;
mod probe;
mod search;
mod sweep;
mod system;

pub use inputs::{
    ModelInputs, config_schema, design_or_default, model_and_policy, platform_or_default,
    sweep_file, system_file,
};
pub use probe::{ProbeOutput, idle_latency_text, probe_hbm};
pub use search::{Objective, SearchOptions, SearchProgress, dsp_budget, search};
pub use sweep::{MergeInput, SweepOptions, SweepOutcome, merge, sweep};
pub use system::{system, system_scaling};

use crate::config::ConfigError;
use crate::config::design::Design;
use crate::config::model::{ModelSpec, PolicySpec};
use crate::config::platform::Platform;
use crate::config::precision::{Precision, PrecisionPair};
use crate::lower::LowerError;
use crate::report::{self, ReportError, html::Table, plot::roofline_svg};
use crate::roofline::{RooflineAnalysis, memory_summary};
use crate::sim::{DEFAULT_MAX_EVENTS, SimError, TraceSink, WorkloadSim, simulate_workload};
use crate::workload::{
    Encoder, ExpertSwitches, Pipeline, Prefill, Workload, WorkloadChoices, WorkloadError,
    WorkloadOptions, single_gemm,
};

/// Any failure of a job. `Config`, `Workload`, a kernel too large to lower and a `Report`
/// mismatch (a file to resume or merge that belongs to another sweep) are the user's to fix
/// (exit code 2); any other `Lower` error is an internal bug; any other `Report` error is an
/// I/O failure while writing outputs.
///
/// Every error prints as one line: text from the user's files (a value, a name) may hold
/// line breaks or other control characters, which print escaped (`\n`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A config could not be read or is invalid.
    #[error("{}", crate::config::one_line(.0))]
    Config(#[from] ConfigError),
    /// The workload options do not describe a forward pass.
    #[error("{}", crate::config::one_line(.0))]
    Workload(#[from] WorkloadError),
    /// A kernel could not be lowered onto the design.
    #[error("{}", crate::config::one_line(.0))]
    Lower(#[from] LowerError),
    /// The simulation could not finish.
    #[error("{}", crate::config::one_line(.0))]
    Sim(#[from] SimError),
    /// An output could not be written.
    #[error("{}", crate::config::one_line(.0))]
    Report(#[from] ReportError),
}

impl Error {
    /// Whether the input was at fault (as opposed to the machine).
    pub fn is_user_error(&self) -> bool {
        match self {
            Error::Config(_) | Error::Workload(_) => true,
            Error::Lower(error) => error.is_user_error(),
            Error::Sim(error) => error.is_user_error(),
            Error::Report(error) => matches!(error, ReportError::Mismatch { .. }),
        }
    }
}

/// The precisions a roofline run covers when none is asked for; the first is shown in tables
/// and plots.
pub fn default_precisions() -> Vec<PrecisionPair> {
    let mut precisions = vec![
        PrecisionPair::uniform(Precision::Int8),
        PrecisionPair::split(Precision::Int4, Precision::Int8),
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
    /// What the job prints.
    pub text: String,
    /// The files it writes.
    pub files: report::Files,
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
            let workload = choices.build(model, policy, precision)?;
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
    for (encoder, name, file) in [
        (Encoder::Expert, "Action expert", "expert_roofline.svg"),
        (Encoder::Decode, "Decode", "decode_roofline.svg"),
    ] {
        if primary.workload.encoder_kernels(encoder).next().is_some() {
            let title = format!("{name} on the {} at {precision}", platform.name);
            let svg = roofline_svg(&title, primary, &[encoder], platform);
            files.push((file, svg.into_bytes()));
        }
    }
    Ok(RooflineOutput { text, files })
}

/// The first instance of the kernel named `name` (`encoder/name` or `name`) of the model on
/// `design` (its precision and fusion), lowered; with `whole_layer`, the graph of its whole
/// layer as an overlapping design runs it (its links checked first). An unknown name gets
/// the encoders' kernel names with a suggestion.
pub fn lower_kernel(
    model: &ModelSpec,
    policy: Option<&PolicySpec>,
    platform: &Platform,
    design: &Design,
    choices: &WorkloadChoices,
    name: &str,
    whole_layer: bool,
) -> Result<crate::lower::KernelGraph, Error> {
    let workload = workload_on(model, policy, design, choices)?;
    let selected = workload.clone().select(&[name.to_string()], "--kernel")?;
    let kernel = selected
        .kernels
        .first()
        .expect("select keeps the named kernel");
    if !whole_layer {
        return Ok(crate::lower::lower(kernel, design)?);
    }
    // The kernels of its layer (or of its run between layers), in order, with their links.
    let layer: Vec<&crate::workload::Kernel> = workload
        .kernels
        .iter()
        .filter(|k| k.encoder == kernel.encoder && k.layer == kernel.layer)
        .collect();
    crate::lower::check_mapping(&workload, design, platform)?;
    Ok(crate::lower::lower_layer(&layer, design)?)
}

/// What `simulate` produced: the terminal summary and the in-memory outputs.
#[derive(Debug)]
pub struct SimulateOutput {
    /// What the job prints.
    pub text: String,
    /// The files it writes.
    pub files: report::Files,
    /// The roofline analysis at each precision.
    pub analysis: RooflineAnalysis,
    /// The simulation of the design.
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
    let workload = workload_on(model, policy, design, choices)?;
    Ok(RooflineAnalysis::new(workload, platform))
}

/// The model's kernels at the design's precision and fusion.
fn workload_on(
    model: &ModelSpec,
    policy: Option<&PolicySpec>,
    design: &Design,
    choices: &WorkloadChoices,
) -> Result<Workload, Error> {
    let choices = WorkloadChoices {
        fusion: design.fusion(),
        ..choices.clone()
    };
    Ok(choices.build(model, policy, design.precision())?)
}

/// Simulates one GEMM (output `m × n`, reduction `k`) alone on `design` (which
/// [`Design::single_array`] cuts down to one array); the text speaks of the GEMM.
pub fn simulate_gemm(
    (m, n, k): (u64, u64, u64),
    platform: &Platform,
    design: &Design,
    trace: Option<&mut dyn TraceSink>,
) -> Result<SimulateOutput, Error> {
    let kernel = single_gemm(m, n, k, design.precision())?;
    let workload = Workload {
        options: WorkloadOptions {
            policy: None,
            cameras: 1,
            language_tokens: 0,
            state_tokens: 0,
            batch: 1,
            text_layers: 0,
            vision_layers: 0,
            kernels: Vec::new(),
            precision: design.precision(),
            fusion: design.fusion(),
            pipeline: Pipeline::Encoders,
            switches: ExpertSwitches::default(),
            per_camera_vision: false,
            decode_tokens: 0,
            prefill: Prefill::Parallel,
            expert: None,
        },
        text_tokens: 0,
        image_tokens: 0,
        lookup_parameters: 0,
        kernels: vec![kernel],
    };
    let analysis = RooflineAnalysis::new(workload, platform);
    let (sim, files) = simulate_files(
        &analysis,
        platform,
        design,
        DEFAULT_MAX_EVENTS,
        trace,
        &|| {},
    )?;
    Ok(SimulateOutput {
        text: report::sim::gemm_text(&analysis, &sim, design, platform),
        files,
        analysis,
        sim,
    })
}

/// Simulates a workload on a design and renders the results (`kernels.csv`,
/// `channels.csv`, `engines.csv`, `summary.json`, `crosscheck.svg`, `attribution.svg`,
/// `utilization.svg`, `report.html`), refusing runs beyond `max_events`. With `trace`, every
/// executed node streams to it as the simulation runs.
pub fn simulate(
    analysis: RooflineAnalysis,
    platform: &Platform,
    design: &Design,
    max_events: u64,
    trace: Option<&mut dyn TraceSink>,
    progress: &(dyn Fn() + Sync),
) -> Result<SimulateOutput, Error> {
    let (sim, files) = simulate_files(&analysis, platform, design, max_events, trace, progress)?;
    let text = report::sim::simulation_text(&analysis, &sim, design, platform);
    let mut output = SimulateOutput {
        text,
        files,
        analysis,
        sim,
    };
    add_pictures_and_report(&mut output, platform, design);
    Ok(output)
}

/// `analyze`: the roofline of the design's workload at each precision (the design's first,
/// at its fusion) and the design's simulation, in one set of files whose `report.html`
/// holds both answers.
#[allow(clippy::too_many_arguments)]
pub fn analyze(
    model: &ModelSpec,
    policy: Option<&PolicySpec>,
    platform: &Platform,
    design: &Design,
    choices: &WorkloadChoices,
    precisions: &[PrecisionPair],
    max_events: u64,
    progress: &(dyn Fn() + Sync),
) -> Result<SimulateOutput, Error> {
    let mut ordered = vec![design.precision()];
    ordered.extend(precisions.iter().filter(|&&p| p != design.precision()));
    let choices = WorkloadChoices {
        fusion: design.fusion(),
        ..choices.clone()
    };
    let roofline = roofline(model, policy, platform, &choices, &ordered)?;
    let analysis = design_workload(model, policy, platform, design, &choices)?;
    let (sim, mut files) = simulate_files(&analysis, platform, design, max_events, None, progress)?;
    let text = report::sim::simulation_text(&analysis, &sim, design, platform);
    files.extend(roofline.files);
    let mut output = SimulateOutput {
        text: format!("{}\n{text}", roofline.text),
        files,
        analysis,
        sim,
    };
    add_pictures_and_report(&mut output, platform, design);
    Ok(output)
}

/// Adds `summary.json`, the three pictures of a simulation and `report.html` to its files.
/// The report shows every SVG among the files (a roofline run's plots too) and the text.
fn add_pictures_and_report(output: &mut SimulateOutput, platform: &Platform, design: &Design) {
    let SimulateOutput {
        text,
        files,
        analysis,
        sim,
    } = output;
    let summary = report::summary(analysis, sim, design, platform);
    files.push(("summary.json", report::summary_json(&summary)));
    let crosscheck = report::crosscheck::crosscheck_svg(
        &format!(
            "Roofline vs simulation: {} at {}",
            design.name(),
            analysis.workload.options.precision
        ),
        analysis,
        sim,
        design.overlap_kernels().then_some(&sim.pipeline),
        design,
        platform,
    );
    let attribution = report::attribution::attribution_svg(
        &format!("Where the cycles went: {}", design.name()),
        analysis,
        sim,
        design,
    );
    let utilization = report::utilization::utilization_svg(
        &format!("Engines and HBM over the run: {}", design.name()),
        sim,
        design,
    );
    files.push(("crosscheck.svg", crosscheck.into_bytes()));
    files.push(("attribution.svg", attribution.into_bytes()));
    files.push(("utilization.svg", utilization.into_bytes()));
    let pictures: Vec<(&str, &str)> = REPORT_PICTURES
        .iter()
        .filter_map(|&(file, heading)| {
            let (_, bytes) = files.iter().find(|(name, _)| *name == file)?;
            Some((heading, std::str::from_utf8(bytes).expect("SVG is UTF-8")))
        })
        .collect();
    let rows = report::sim::kernel_rows(analysis, sim, design, platform);
    let tables = [
        Table::new("Kernels", &report::sim::KERNEL_COLUMNS, rows),
        report::sim::engine_table(sim, design),
        report::sim::channel_table(sim, design),
    ];
    let headline = report::headline::headline_html(&summary);
    let html = report::html::report_html(
        &format!("roofsim: {} on {}", design.name(), platform.name),
        (Some(&headline), text),
        &pictures,
        &tables,
    );
    files.push(("report.html", html.into_bytes()));
}

/// The pictures a report shows when they are among the files, in order, with their headings.
const REPORT_PICTURES: [(&str, &str); 7] = [
    ("crosscheck.svg", "Roofline against simulation"),
    ("attribution.svg", "Where the cycles went"),
    ("utilization.svg", "Engines and HBM over the run"),
    (
        "vision_roofline.svg",
        "Roofline: vision encoder and connector",
    ),
    ("text_roofline.svg", "Roofline: text encoder"),
    ("expert_roofline.svg", "Roofline: action expert"),
    ("decode_roofline.svg", "Roofline: decode"),
];

/// Simulates the analysed workload and writes its per-kernel and per-channel CSV.
fn simulate_files(
    analysis: &RooflineAnalysis,
    platform: &Platform,
    design: &Design,
    max_events: u64,
    trace: Option<&mut dyn TraceSink>,
    progress: &(dyn Fn() + Sync),
) -> Result<(WorkloadSim, report::Files), Error> {
    let sim = simulate_workload(
        &analysis.workload,
        design,
        platform,
        max_events,
        trace,
        progress,
    )?;
    let files = vec![
        (
            "kernels.csv",
            report::sim::kernels_csv(analysis, &sim, design, platform)?,
        ),
        (
            "channels.csv",
            report::sim::channel_table(&sim, design).csv()?,
        ),
        (
            "engines.csv",
            report::sim::engine_table(&sim, design).csv()?,
        ),
        (
            "resources.csv",
            report::resources::resources_csv(design, platform, &sim.bill)?,
        ),
    ];
    Ok((sim, files))
}
