//! Sweep outputs: `sweep.csv` streamed row by row (valid after any interruption, resumable),
//! merging of shard files, the Pareto plot and the printed summary.

mod pareto;
mod summary;

pub use pareto::{Cost, pareto_front, pareto_svg};
pub use summary::{RANKED_COLUMNS, ranked_rows, skip_reasons, sweep_summary};

use super::ReportError;
use super::fixed::{Fixed, Sci};
use crate::sweep::{Outcome, Row, SweepSpec};
use crate::workload::Encoder;
use std::io::Write;
use std::path::{Path, PathBuf};

const RESULT_COLUMNS: [&str; 22] = [
    "dsps",
    "bram_blocks",
    "uram_blocks",
    "dsp_share",
    "bram_share",
    "uram_share",
    "vision_ms",
    "connector_ms",
    "text_ms",
    "expert_ms",
    "decode_ms",
    "total_ms",
    "ms_per_camera",
    "frames_per_s",
    "ops_per_s",
    "efficiency",
    "bottleneck",
    "power_w_min",
    "power_w_max",
    "energy_mj_min",
    "energy_mj_max",
    "predicted_ms",
];

/// Columns of `sweep.csv`: point, status, reason, the varied axes, then the results.
pub fn sweep_header(spec: &SweepSpec) -> Vec<String> {
    ["point", "status", "reason"]
        .into_iter()
        .map(String::from)
        .chain(spec.axes.iter().map(|a| a.name.clone()))
        .chain(RESULT_COLUMNS.iter().map(|c| c.to_string()))
        .collect()
}

/// One row of `sweep.csv`; `predicted_s` is the prescreen's roofline latency, if any.
pub fn sweep_record(row: &Row, predicted_s: Option<f64>) -> Vec<String> {
    let mut record = vec![row.point.index.to_string()];
    match &row.outcome {
        Outcome::Skipped(reason) => {
            record.extend(["skipped".to_string(), reason.clone()]);
            record.extend(row.point.values.iter().cloned());
            record.extend(std::iter::repeat_n(String::new(), RESULT_COLUMNS.len()));
        }
        Outcome::Simulated(result) => {
            record.extend(["ok".to_string(), String::new()]);
            record.extend(row.point.values.iter().cloned());
            let ms = |seconds: Option<f64>| {
                seconds
                    .map(|s| Fixed(s * 1e3, 4).to_string())
                    .unwrap_or_default()
            };
            record.extend([
                result.dsps.to_string(),
                result.bram_blocks.to_string(),
                result.uram_blocks.to_string(),
                Fixed(result.dsp_share, 4).to_string(),
                Fixed(result.bram_share, 4).to_string(),
                Fixed(result.uram_share, 4).to_string(),
                ms(result.encoder_seconds[Encoder::Vision as usize]),
                ms(result.encoder_seconds[Encoder::Connector as usize]),
                ms(result.encoder_seconds[Encoder::Text as usize]),
                ms(result.encoder_seconds[Encoder::Expert as usize]),
                ms(result.encoder_seconds[Encoder::Decode as usize]),
                ms(Some(result.total_seconds)),
                ms(result.seconds_per_camera),
                Fixed(result.frames_per_s, 3).to_string(),
                Sci(result.ops_per_s, 6).to_string(),
                Fixed(result.efficiency, 4).to_string(),
                result.bottleneck.name().to_string(),
            ]);
            let range = |range: Option<(f64, f64)>, scale: f64| {
                range.map_or([String::new(), String::new()], |(low, high)| {
                    [
                        Fixed(low * scale, 3).to_string(),
                        Fixed(high * scale, 3).to_string(),
                    ]
                })
            };
            record.extend(range(result.power_w, 1.0));
            record.extend(range(result.energy_j, 1e3));
            record.push(ms(predicted_s));
        }
    }
    record
}

fn csv_line(fields: &[String]) -> Result<Vec<u8>, ReportError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(fields)?;
    writer
        .into_inner()
        .map_err(|error| ReportError::Csv(error.into_error().into()))
}

/// `sweep.csv` opened for appending whole rows; each row is flushed as it is written, so the
/// file is a valid CSV whenever the process stops.
#[derive(Debug)]
pub struct SweepCsv {
    path: PathBuf,
    file: std::fs::File,
}

impl SweepCsv {
    /// Opens `path`. Fresh: writes the header. With `resume`: keeps the rows already there that
    /// match `run` (the point indices to run, in order) and returns how many are done.
    pub fn open(
        path: &Path,
        header: &[String],
        run: &[u64],
        resume: bool,
    ) -> Result<(SweepCsv, usize), ReportError> {
        let header_line = csv_line(header)?;
        let mut content = header_line.clone();
        let mut done = 0;
        if resume && path.exists() {
            let text = std::fs::read_to_string(path).map_err(ReportError::io(path))?;
            if !text.as_bytes().starts_with(&header_line) {
                return Err(ReportError::Mismatch {
                    path: path.to_path_buf(),
                    reason: "its header is not this sweep's; cannot resume".into(),
                });
            }
            let body = &text[header_line.len()..];
            // Only whole lines count: a row cut by a kill has no newline yet.
            let complete = &body[..body.rfind('\n').map_or(0, |i| i + 1)];
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(complete.as_bytes());
            for record in reader.records() {
                let Ok(record) = record else { break };
                let expected = run.get(done).map(u64::to_string);
                if record.len() != header.len() || expected.as_deref() != record.get(0) {
                    break;
                }
                let fields: Vec<String> = record.iter().map(String::from).collect();
                content.extend(csv_line(&fields)?);
                done += 1;
            }
        }
        let partial = super::partial_path(path.parent().unwrap_or(Path::new(".")), "sweep.csv");
        std::fs::write(&partial, &content).map_err(ReportError::io(path))?;
        std::fs::rename(&partial, path).map_err(ReportError::io(path))?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(ReportError::io(path))?;
        Ok((
            SweepCsv {
                path: path.to_path_buf(),
                file,
            },
            done,
        ))
    }

    /// Appends one row in a single write and flushes it.
    pub fn append(&mut self, record: &[String]) -> Result<(), ReportError> {
        let line = csv_line(record)?;
        self.file
            .write_all(&line)
            .and_then(|()| self.file.flush())
            .map_err(ReportError::io(&self.path))
    }
}

/// Joins shard files of one sweep into one, rows in point order, as a single run writes it.
pub fn merge_sweeps(inputs: &[(String, String)]) -> Result<Vec<u8>, ReportError> {
    let mut header: Option<csv::StringRecord> = None;
    let mut rows: Vec<(u64, csv::StringRecord)> = Vec::new();
    for (name, text) in inputs {
        let mismatch = |reason: String| ReportError::Mismatch {
            path: PathBuf::from(name),
            reason,
        };
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let unreadable = |error: csv::Error| mismatch(format!("not a whole sweep.csv: {error}"));
        let this_header = reader.headers().map_err(unreadable)?.clone();
        match &header {
            Some(first) if *first != this_header => {
                return Err(mismatch("its columns differ from the first file's".into()));
            }
            Some(_) => {}
            None => header = Some(this_header),
        }
        for record in reader.records() {
            let record = record.map_err(unreadable)?;
            let point = record
                .get(0)
                .and_then(|p| p.parse::<u64>().ok())
                .ok_or_else(|| mismatch("a row without a point index".into()))?;
            rows.push((point, record));
        }
    }
    rows.sort_by_key(|(point, _)| *point);
    rows.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
    if let Some(pair) = rows.windows(2).find(|pair| pair[0].0 == pair[1].0) {
        return Err(ReportError::Mismatch {
            path: PathBuf::from("merge"),
            reason: format!("point {} appears twice with different results", pair[0].0),
        });
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    if let Some(header) = &header {
        writer.write_record(header)?;
    }
    for (_, record) in &rows {
        writer.write_record(record)?;
    }
    writer
        .into_inner()
        .map_err(|error| ReportError::Csv(error.into_error().into()))
}

/// The columns of `sweep.csv` the summary and the plot need.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepEntry {
    /// The point's index.
    pub point: u64,
    /// Why it was skipped, if it was.
    pub reason: Option<String>,
    /// DSP slices.
    pub dsps: u64,
    /// Latency of a step, ms.
    pub total_ms: f64,
    /// Per camera image, ms, where the workload has images.
    pub ms_per_camera: Option<f64>,
    /// Observations per second.
    pub frames_per_s: f64,
    /// Roofline time over simulated time.
    pub efficiency: f64,
    /// What bounds it.
    pub bottleneck: String,
    /// The analytical model's prediction, ms, where one was made.
    pub predicted_ms: Option<f64>,
    /// The high end of the board's power range, where the platform gives a power model.
    pub power_w_max: Option<f64>,
    /// `(axis, value)` for every varied axis.
    pub values: Vec<(String, String)>,
}

/// Reads `sweep.csv` back (so a resumed sweep summarises every row, old and new).
pub fn read_sweep(text: &str, spec: &SweepSpec) -> Result<Vec<SweepEntry>, ReportError> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers()?.clone();
    let column = |name: &str| header.iter().position(|h| h == name);
    let number = |record: &csv::StringRecord, name: &str| {
        column(name)
            .and_then(|i| record.get(i))
            .and_then(|v| v.parse::<f64>().ok())
    };
    let mut entries = Vec::new();
    for record in reader.records() {
        let record = record?;
        let skipped = column("status").and_then(|i| record.get(i)) == Some("skipped");
        entries.push(SweepEntry {
            point: number(&record, "point").unwrap_or(0.0) as u64,
            reason: skipped.then(|| {
                column("reason")
                    .and_then(|i| record.get(i))
                    .unwrap_or_default()
                    .to_string()
            }),
            dsps: number(&record, "dsps").unwrap_or(0.0) as u64,
            total_ms: number(&record, "total_ms").unwrap_or(f64::NAN),
            ms_per_camera: number(&record, "ms_per_camera"),
            frames_per_s: number(&record, "frames_per_s").unwrap_or(0.0),
            efficiency: number(&record, "efficiency").unwrap_or(0.0),
            bottleneck: column("bottleneck")
                .and_then(|i| record.get(i))
                .unwrap_or_default()
                .to_string(),
            predicted_ms: number(&record, "predicted_ms"),
            power_w_max: number(&record, "power_w_max"),
            values: spec
                .axes
                .iter()
                .map(|axis| {
                    let value = column(&axis.name)
                        .and_then(|i| record.get(i))
                        .unwrap_or_default();
                    (axis.name.to_string(), value.to_string())
                })
                .collect(),
        });
    }
    Ok(entries)
}

/// The fastest simulated point (ties: fewer DSPs, then lower index).
pub fn best_entry(entries: &[SweepEntry]) -> Option<&SweepEntry> {
    entries
        .iter()
        .filter(|e| e.reason.is_none())
        .min_by(|a, b| faster(a, b))
}

/// Ranks points by latency; ties go to fewer DSPs, then the lower index.
fn faster(a: &SweepEntry, b: &SweepEntry) -> std::cmp::Ordering {
    a.total_ms
        .total_cmp(&b.total_ms)
        .then(a.dsps.cmp(&b.dsps))
        .then(a.point.cmp(&b.point))
}
