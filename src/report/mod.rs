//! Reports: readable tables, CSV, SVG plots, and writing them whole or not at all.

pub mod attribution;
pub mod crosscheck;
pub mod html;
mod pipeline;
pub mod plot;
pub mod probe;
pub mod resources;
pub mod sim;
mod step;
mod svg;
pub mod sweep;
mod table;
pub mod utilization;

pub use table::roofline_text;

use crate::roofline::{KernelPoint, RooflineAnalysis};
use crate::workload::Kernel;
use std::path::{Path, PathBuf};

/// Files for an output folder: name and whole contents, written together by [`write_all`].
pub type Files = Vec<(&'static str, Vec<u8>)>;

/// An output that could not be produced; fatal, and nothing half-written is left behind.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("CSV: {0}")]
    Csv(#[from] csv::Error),
    /// An existing file does not belong to this job (resume, merge): the user's to fix.
    #[error("{path}: {reason}")]
    Mismatch { path: PathBuf, reason: String },
}

impl ReportError {
    /// Wraps an I/O error on `path`: `.map_err(ReportError::io(&path))`.
    pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + use<> {
        let path = path.to_path_buf();
        move |source| ReportError::Io { path, source }
    }
}

/// Column names of `roofline.csv`.
pub const ROOFLINE_CSV_HEADER: [&str; 21] = [
    "encoder",
    "layer",
    "kernel",
    "op",
    "m",
    "n",
    "k",
    "batch",
    "precision",
    "compute_precision",
    "macs",
    "flops",
    "bytes",
    "parameter_bytes",
    "oi",
    "compute_roof_ops_per_s",
    "attainable_ops_per_s",
    "bound",
    "attainable_measured_ops_per_s",
    "bound_measured",
    "time_s",
];

/// One row per kernel instance and precision.
pub fn roofline_csv(analyses: &[RooflineAnalysis]) -> Result<Vec<u8>, ReportError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(ROOFLINE_CSV_HEADER)?;
    for analysis in analyses {
        let precision = analysis.workload.options.precision.to_string();
        for (kernel, point) in analysis.iter() {
            writer.write_record(roofline_record(kernel, point, &precision))?;
        }
    }
    writer
        .into_inner()
        .map_err(|error| ReportError::Csv(error.into_error().into()))
}

/// The roofline columns of one kernel.
pub(crate) fn roofline_record(
    kernel: &Kernel,
    point: &KernelPoint,
    precision: &str,
) -> Vec<String> {
    let parameter_bytes: u64 = kernel
        .operands
        .iter()
        .filter(|operand| operand.is_parameter)
        .map(|operand| operand.bytes())
        .sum();
    vec![
        kernel.encoder.name().to_string(),
        kernel
            .layer
            .map(|layer| layer.to_string())
            .unwrap_or_default(),
        kernel.name.to_string(),
        kernel.op.name().to_string(),
        kernel.m.to_string(),
        kernel.n.to_string(),
        kernel.k.to_string(),
        kernel.batch.to_string(),
        precision.to_string(),
        kernel.compute_precision.to_string(),
        kernel.macs.to_string(),
        kernel.flops().to_string(),
        kernel.bytes().to_string(),
        parameter_bytes.to_string(),
        format!("{:.6}", point.oi_ops_per_byte),
        format!("{:.6e}", point.roofs.peak.compute_ops_per_s),
        format!("{:.6e}", point.attainable_ops_per_s),
        point.bound.to_string(),
        format!("{:.6e}", point.attainable_measured_ops_per_s),
        point.bound_measured.to_string(),
        format!("{:.6e}", point.time_s),
    ]
}

/// The temporary name of output `name` in `dir` while it is written: `.NAME.roofsim-partial`,
/// a name no user file is expected to carry, so removing left-overs removes only roofsim's.
pub fn partial_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!(".{name}{PARTIAL_SUFFIX}"))
}

const PARTIAL_SUFFIX: &str = ".roofsim-partial";

/// Removes the temporary files ([`partial_path`]) an interrupted run left in `dir`; called
/// when a job starts writing there. A missing folder has none; other files stay.
pub fn remove_partials(dir: &Path) -> Result<(), ReportError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.ends_with(PARTIAL_SUFFIX) {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(ReportError::io(&path))?;
        }
    }
    Ok(())
}

/// Writes every file into `dir`, or none: each goes to a temporary name first and all are
/// renamed only once every write has succeeded.
pub fn write_all(dir: &Path, files: &[(&str, Vec<u8>)]) -> Result<(), ReportError> {
    std::fs::create_dir_all(dir).map_err(ReportError::io(dir))?;
    let mut staged = Vec::new();
    let result = files.iter().try_for_each(|(name, bytes)| {
        let temporary = partial_path(dir, name);
        staged.push(temporary.clone());
        std::fs::write(&temporary, bytes).map_err(ReportError::io(&temporary))
    });
    let result = result.and_then(|()| {
        files
            .iter()
            .zip(&staged)
            .try_for_each(|((name, _), temporary)| {
                let path = dir.join(name);
                std::fs::rename(temporary, &path).map_err(ReportError::io(&path))
            })
    });
    if result.is_err() {
        for temporary in &staged {
            let _ = std::fs::remove_file(temporary);
        }
    }
    result
}

/// The default run (smolVLA, 3 cameras, batch 1, on the built-in design and platform), for
/// the charts' tests.
#[cfg(test)]
pub(crate) fn default_run() -> (
    crate::pipeline::SimulateOutput,
    crate::config::design::Design,
    crate::config::platform::Platform,
) {
    use crate::config::Source;
    use crate::config::design::{DEFAULT_DESIGN, load_design};
    use crate::config::model::{default_model, default_policy};
    use crate::config::platform::default_platform;
    use crate::pipeline::{design_workload, simulate};
    use crate::sim::DEFAULT_MAX_EVENTS;
    use crate::workload::WorkloadChoices;
    let platform = default_platform();
    let design = load_design(&Source::built_in("d", DEFAULT_DESIGN), &platform).unwrap();
    let choices = WorkloadChoices {
        batch: 1,
        ..WorkloadChoices::default()
    };
    let model = default_model();
    let analysis = design_workload(
        &model,
        Some(&default_policy()),
        &platform,
        &design,
        &choices,
    )
    .unwrap();
    let output = simulate(
        analysis,
        &platform,
        &design,
        DEFAULT_MAX_EVENTS,
        None,
        &|| {},
    );
    (output.unwrap(), design, platform)
}
