//! Whole jobs, as the command line runs them: inputs in, report text and files out.

use crate::config::ConfigError;
use crate::config::design::Design;
use crate::config::model::{ModelSpec, PolicySpec};
use crate::config::platform::Platform;
use crate::config::precision::{Precision, PrecisionPair};
use crate::lower::LowerError;
use crate::report::{self, ReportError, plot::roofline_svg};
use crate::roofline::{RooflineAnalysis, memory_summary};
use crate::sim::{TraceSink, WorkloadSim, simulate_workload};
use crate::workload::{
    Encoder, Fusion, Workload, WorkloadError, WorkloadOptions, build_workload, single_gemm,
};

/// Any failure of a job. `Config` and `Workload` are the user's to fix (exit code 2);
/// `Report` is an I/O failure while writing outputs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Workload(#[from] WorkloadError),
    #[error(transparent)]
    Lower(#[from] LowerError),
    #[error(transparent)]
    Report(#[from] ReportError),
}

impl Error {
    /// Whether the input was at fault (as opposed to the machine).
    pub fn is_user_error(&self) -> bool {
        matches!(self, Error::Config(_) | Error::Workload(_))
    }
}

/// Workload choices left open on the command line; `None` takes the policy's value.
#[derive(Debug, Clone, Default)]
pub struct WorkloadChoices {
    pub cameras: Option<u64>,
    pub language_tokens: Option<u64>,
    pub state_tokens: Option<u64>,
    pub batch: u64,
    pub text_layers: Option<u64>,
    pub fusion: Fusion,
}

impl WorkloadChoices {
    /// Resolves the choices against the policy (or the model, without a policy).
    pub fn options(
        &self,
        model: &ModelSpec,
        policy: Option<&PolicySpec>,
        precision: PrecisionPair,
    ) -> WorkloadOptions {
        let all_text_layers = model.text.as_ref().map_or(0, |text| text.num_layers);
        WorkloadOptions {
            cameras: self.cameras.or(policy.map(|p| p.cameras)).unwrap_or(1),
            language_tokens: self
                .language_tokens
                .or(policy.map(|p| p.language_tokens))
                .unwrap_or(48),
            state_tokens: self
                .state_tokens
                .or(policy.map(|p| p.state_tokens))
                .unwrap_or(1),
            batch: self.batch,
            text_layers: self
                .text_layers
                .or(policy.map(|p| p.num_vlm_layers))
                .unwrap_or(all_text_layers),
            precision,
            fusion: self.fusion,
        }
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

/// Simulates a workload on a design. The workload takes the design's precision and fusion.
/// With `trace`, every executed node streams to it as the simulation runs.
pub fn simulate(
    model: &ModelSpec,
    policy: Option<&PolicySpec>,
    platform: &Platform,
    design: &Design,
    choices: &WorkloadChoices,
    trace: Option<&mut dyn TraceSink>,
    progress: &(dyn Fn() + Sync),
) -> Result<SimulateOutput, Error> {
    let choices = WorkloadChoices {
        fusion: design.fusion,
        ..choices.clone()
    };
    let workload = build_workload(model, &choices.options(model, policy, design.precision))?;
    simulate_workload_output(
        RooflineAnalysis::new(workload, platform),
        platform,
        design,
        trace,
        progress,
    )
}

/// Simulates one GEMM (output `m × n`, reduction `k`) alone on one array of `design`.
pub fn simulate_gemm(
    (m, n, k): (u64, u64, u64),
    platform: &Platform,
    design: &Design,
) -> Result<SimulateOutput, Error> {
    let kernel = single_gemm(m, n, k, design.precision);
    let workload = Workload {
        options: WorkloadOptions {
            cameras: 1,
            language_tokens: 0,
            state_tokens: 0,
            batch: 1,
            text_layers: 0,
            precision: design.precision,
            fusion: design.fusion,
        },
        text_tokens: 0,
        kernels: vec![kernel],
    };
    simulate_workload_output(
        RooflineAnalysis::new(workload, platform),
        platform,
        design,
        None,
        &|| {},
    )
}

fn simulate_workload_output(
    analysis: RooflineAnalysis,
    platform: &Platform,
    design: &Design,
    trace: Option<&mut dyn TraceSink>,
    progress: &(dyn Fn() + Sync),
) -> Result<SimulateOutput, Error> {
    let sim = simulate_workload(&analysis.workload, design, platform, trace, progress)?;
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
