//! Reports: readable tables, CSV, SVG plots, and writing them whole or not at all.

pub mod attribution;
pub mod crosscheck;
mod fixed;
pub mod headline;
pub mod html;
mod pipeline;
pub mod plot;
pub mod probe;
pub mod resources;
pub mod sim;
mod summary;
pub use summary::{Summary, summary, summary_json, summary_schema};
mod step;
mod svg;
pub mod sweep;
pub(crate) mod table;
pub mod timeline;
pub mod utilization;

pub use table::roofline_text;

use crate::roofline::{KernelPoint, RooflineAnalysis};
use crate::workload::Kernel;
use fixed::{Fixed, Sci};
use std::path::{Path, PathBuf};

/// Files for an output folder: name and whole contents, written together by [`write_all`].
pub type Files = Vec<(&'static str, Vec<u8>)>;

/// An output that could not be produced; fatal, and nothing half-written is left behind.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file could not be written (or read back).
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A CSV file could not be written or read.
    #[error("CSV: {0}")]
    Csv(#[from] csv::Error),
    /// An existing file does not belong to this job (resume, merge): the user's to fix.
    #[error("{path}: {reason}")]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// How it differs.
        reason: String,
    },
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
    let mut row = Row::new(&mut writer);
    for analysis in analyses {
        let precision = analysis.workload.options.precision.to_string();
        for (kernel, point) in analysis.iter() {
            roofline_fields(&mut row, kernel, point, &precision)?;
            row.end()?;
        }
    }
    writer
        .into_inner()
        .map_err(|error| ReportError::Csv(error.into_error().into()))
}

/// CSV rows written field by field, each field formatted into one buffer kept from field to
/// field and row to row: rows of strings allocated a string per field (half of a default
/// run's allocations, for the roofline and kernel rows).
pub(crate) struct Row<'w, W: std::io::Write> {
    writer: &'w mut csv::Writer<W>,
    buffer: String,
}

impl<'w, W: std::io::Write> Row<'w, W> {
    /// Rows written to `writer`.
    pub(crate) fn new(writer: &'w mut csv::Writer<W>) -> Self {
        Row {
            writer,
            buffer: String::new(),
        }
    }

    /// Writes `value` as the row's next field.
    pub(crate) fn field(&mut self, value: impl std::fmt::Display) -> Result<(), csv::Error> {
        use std::fmt::Write;
        self.buffer.clear();
        write!(self.buffer, "{value}").expect("a String takes any text");
        self.writer.write_field(&self.buffer)
    }

    /// Ends the row.
    pub(crate) fn end(&mut self) -> Result<(), csv::Error> {
        self.writer.write_record(None::<&[u8]>)
    }
}

/// The roofline columns of one kernel, the fields a row starts with.
pub(crate) fn roofline_fields<W: std::io::Write>(
    row: &mut Row<'_, W>,
    kernel: &Kernel,
    point: &KernelPoint,
    precision: &str,
) -> Result<(), csv::Error> {
    let parameter_bytes: u64 = kernel
        .operands
        .iter()
        .filter(|operand| operand.is_parameter)
        .map(|operand| operand.bytes())
        .sum();
    row.field(kernel.encoder.name())?;
    match kernel.layer {
        Some(layer) => row.field(layer)?,
        None => row.field("")?,
    }
    row.field(kernel.name)?;
    row.field(kernel.op.name())?;
    for number in [kernel.m, kernel.n, kernel.k, kernel.batch] {
        row.field(number)?;
    }
    row.field(precision)?;
    row.field(kernel.compute_precision)?;
    row.field(kernel.macs)?;
    row.field(kernel.flops())?;
    row.field(kernel.bytes())?;
    row.field(parameter_bytes)?;
    row.field(Fixed(point.oi_ops_per_byte, 6))?;
    row.field(Sci(point.roofs.peak.compute_ops_per_s, 6))?;
    row.field(Sci(point.attainable_ops_per_s, 6))?;
    row.field(point.bound)?;
    row.field(Sci(point.attainable_measured_ops_per_s, 6))?;
    row.field(point.bound_measured)?;
    row.field(Sci(point.time_s, 6))
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

/// Writes every file into `dir`, or none: each goes to a temporary name first, and only once
/// every write has succeeded are they moved in place, the files they replace set aside; if a
/// move fails, the moved files are taken back and the set-aside ones restored, so the folder
/// holds the whole old set or the whole new one.
pub fn write_all(dir: &Path, files: &[(&str, Vec<u8>)]) -> Result<(), ReportError> {
    std::fs::create_dir_all(dir).map_err(ReportError::io(dir))?;
    let mut staged = Vec::new();
    let mut result = files.iter().try_for_each(|(name, bytes)| {
        let temporary = partial_path(dir, name);
        staged.push(temporary.clone());
        std::fs::write(&temporary, bytes).map_err(ReportError::io(&temporary))
    });
    // Per file moved in: its path, and where the file it replaced was set aside.
    let mut moved: Vec<(PathBuf, Option<PathBuf>)> = Vec::new();
    if result.is_ok() {
        result = files
            .iter()
            .zip(&staged)
            .try_for_each(|((name, _), temporary)| {
                let path = dir.join(name);
                let aside = partial_path(dir, &format!("{name}.old"));
                let replaced = path.is_file();
                if replaced {
                    std::fs::rename(&path, &aside).map_err(ReportError::io(&path))?;
                }
                let aside = replaced.then_some(aside);
                if let Err(error) = std::fs::rename(temporary, &path) {
                    if let Some(aside) = &aside {
                        let _ = std::fs::rename(aside, &path);
                    }
                    return Err(ReportError::io(&path)(error));
                }
                moved.push((path, aside));
                Ok(())
            });
    }
    if result.is_err() {
        for (path, aside) in moved.iter().rev() {
            match aside {
                Some(aside) => {
                    let _ = std::fs::rename(aside, path);
                }
                None => {
                    let _ = std::fs::remove_file(path);
                }
            }
        }
        for temporary in &staged {
            let _ = std::fs::remove_file(temporary);
        }
    } else {
        for aside in moved.iter().filter_map(|(_, aside)| aside.as_ref()) {
            let _ = std::fs::remove_file(aside);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A set is written whole or not at all: when one file cannot be moved in (its name is
    /// taken by a folder), the files already moved are taken back and the old ones restored,
    /// and no temporary file stays.
    #[test]
    fn a_set_that_fails_midway_leaves_the_old_set() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        write_all(
            path,
            &[("a.csv", b"old".to_vec()), ("c.csv", b"old".to_vec())],
        )
        .unwrap();
        std::fs::create_dir(path.join("b.csv")).unwrap();
        std::fs::write(path.join("b.csv").join("keep"), "x").unwrap();
        let new = [
            ("a.csv", b"new".to_vec()),
            ("b.csv", b"new".to_vec()),
            ("c.csv", b"new".to_vec()),
        ];
        assert!(write_all(path, &new).is_err());
        let read = |name: &str| std::fs::read_to_string(path.join(name)).unwrap();
        assert_eq!((read("a.csv"), read("c.csv")), ("old".into(), "old".into()));
        let mut names: Vec<String> = std::fs::read_dir(path)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["a.csv", "b.csv", "c.csv"]);
        // Once the name is free, the whole new set goes in.
        std::fs::remove_dir_all(path.join("b.csv")).unwrap();
        write_all(path, &new).unwrap();
        assert_eq!((read("a.csv"), read("b.csv")), ("new".into(), "new".into()));
    }
}
