//! Sweep outputs: `sweep.csv` streamed row by row (valid after any interruption, resumable),
//! merging of shard files, the Pareto plot and the printed summary.

use super::ReportError;
use super::svg::Frame;
use crate::sweep::{Outcome, Row, SweepSpec};
use crate::workload::Encoder;
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

const RESULT_COLUMNS: [&str; 16] = [
    "dsps",
    "bram_blocks",
    "uram_blocks",
    "dsp_share",
    "bram_share",
    "uram_share",
    "vision_ms",
    "connector_ms",
    "text_ms",
    "total_ms",
    "ms_per_camera",
    "frames_per_s",
    "ops_per_s",
    "efficiency",
    "bottleneck",
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
                    .map(|s| format!("{:.4}", s * 1e3))
                    .unwrap_or_default()
            };
            record.extend([
                result.dsps.to_string(),
                result.bram_blocks.to_string(),
                result.uram_blocks.to_string(),
                format!("{:.4}", result.dsp_share),
                format!("{:.4}", result.bram_share),
                format!("{:.4}", result.uram_share),
                ms(result.encoder_seconds[Encoder::Vision as usize]),
                ms(result.encoder_seconds[Encoder::Connector as usize]),
                ms(result.encoder_seconds[Encoder::Text as usize]),
                ms(Some(result.total_seconds)),
                ms(result.seconds_per_camera),
                format!("{:.3}", result.frames_per_s),
                format!("{:.6e}", result.ops_per_s),
                format!("{:.4}", result.efficiency),
                result.bottleneck.name().to_string(),
                ms(predicted_s),
            ]);
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
        let io = |source| ReportError::Io {
            path: path.to_path_buf(),
            source,
        };
        let header_line = csv_line(header)?;
        let mut content = header_line.clone();
        let mut done = 0;
        if resume && path.exists() {
            let text = std::fs::read_to_string(path).map_err(io)?;
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
        let partial = path.with_file_name(".sweep.csv.partial");
        std::fs::write(&partial, &content).map_err(io)?;
        std::fs::rename(&partial, path).map_err(io)?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(io)?;
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
            .map_err(|source| ReportError::Io {
                path: self.path.clone(),
                source,
            })
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
        let this_header = reader.headers()?.clone();
        match &header {
            Some(first) if *first != this_header => {
                return Err(mismatch("its columns differ from the first file's".into()));
            }
            Some(_) => {}
            None => header = Some(this_header),
        }
        for record in reader.records() {
            let record = record?;
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
    pub point: u64,
    pub reason: Option<String>,
    pub dsps: u64,
    pub total_ms: f64,
    pub ms_per_camera: Option<f64>,
    pub frames_per_s: f64,
    pub efficiency: f64,
    pub bottleneck: String,
    pub predicted_ms: Option<f64>,
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

/// Simulated entries on the Pareto front of (DSPs, latency): no other point is at least as
/// good on both and better on one. Sorted by DSPs.
pub fn pareto_front(entries: &[SweepEntry]) -> Vec<&SweepEntry> {
    let mut simulated: Vec<&SweepEntry> = entries.iter().filter(|e| e.reason.is_none()).collect();
    simulated.sort_by(|a, b| {
        a.dsps
            .cmp(&b.dsps)
            .then(a.total_ms.total_cmp(&b.total_ms))
            .then(a.point.cmp(&b.point))
    });
    let mut front: Vec<&SweepEntry> = Vec::new();
    for entry in simulated {
        if front
            .last()
            .is_none_or(|best| entry.total_ms < best.total_ms)
        {
            front.push(entry);
        }
    }
    front
}

/// The fastest simulated point (ties: fewer DSPs, then lower index).
pub fn best_entry(entries: &[SweepEntry]) -> Option<&SweepEntry> {
    entries
        .iter()
        .filter(|e| e.reason.is_none())
        .min_by(|a, b| {
            a.total_ms
                .total_cmp(&b.total_ms)
                .then(a.dsps.cmp(&b.dsps))
                .then(a.point.cmp(&b.point))
        })
}

/// A round tick spacing (1, 2 or 5 × a power of ten) giving four to ten ticks up to `max`.
fn tick_step(max: f64) -> f64 {
    let magnitude = 10f64.powf((max / 5.0).log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|factor| factor * magnitude)
        .find(|step| max / step <= 10.0)
        .unwrap_or(10.0 * magnitude)
}

/// Latency against DSPs, every simulated point grey, the Pareto front highlighted.
pub fn pareto_svg(title: &str, entries: &[SweepEntry]) -> String {
    let frame = Frame {
        width: 820.0,
        height: 560.0,
        left: 80.0,
        right: 790.0,
        top: 50.0,
        bottom: 490.0,
    };
    let Frame {
        left,
        right,
        top,
        bottom,
        ..
    } = frame;
    let simulated: Vec<&SweepEntry> = entries.iter().filter(|e| e.reason.is_none()).collect();
    let front = pareto_front(entries);
    let max_dsps = simulated.iter().map(|e| e.dsps).max().unwrap_or(1).max(1) as f64 * 1.05;
    let max_ms = simulated
        .iter()
        .map(|e| e.total_ms)
        .fold(0.0, f64::max)
        .max(1e-9)
        * 1.05;
    let x = |dsps: u64| left + dsps as f64 / max_dsps * (right - left);
    let y = |ms: f64| bottom - ms / max_ms * (bottom - top);
    let mut svg = frame.open(title);
    frame.border(&mut svg);
    let dsp_step = tick_step(max_dsps);
    for tick in 0..=(max_dsps / dsp_step) as u64 {
        let dsps = (tick as f64 * dsp_step) as u64;
        let _ = writeln!(
            svg,
            r##"<line x1="{0:.1}" y1="{top}" x2="{0:.1}" y2="{bottom}" stroke="#eee"/><text x="{0:.1}" y="{1}" text-anchor="middle">{dsps}</text>"##,
            x(dsps),
            bottom + 16.0
        );
    }
    let ms_step = tick_step(max_ms);
    let decimals = (-ms_step.log10().floor()).max(0.0) as usize;
    for tick in 0..=(max_ms / ms_step) as u64 {
        let ms = tick as f64 * ms_step;
        let _ = writeln!(
            svg,
            r##"<line x1="{left}" y1="{0:.1}" x2="{right}" y2="{0:.1}" stroke="#eee"/><text x="{1}" y="{2:.1}" text-anchor="end">{ms:.decimals$}</text>"##,
            y(ms),
            left - 6.0,
            y(ms) + 4.0
        );
    }
    for entry in &simulated {
        let _ = writeln!(
            svg,
            r##"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="#9aa"/>"##,
            x(entry.dsps),
            y(entry.total_ms)
        );
    }
    let path: Vec<String> = front
        .iter()
        .map(|e| format!("{:.1},{:.1}", x(e.dsps), y(e.total_ms)))
        .collect();
    let _ = writeln!(
        svg,
        r##"<polyline points="{}" fill="none" stroke="#d95f02" stroke-width="1.5"/>"##,
        path.join(" ")
    );
    for entry in &front {
        // Labels near the right edge end at their point instead of centring on it.
        let anchor = if x(entry.dsps) > right - 80.0 {
            "end"
        } else {
            "middle"
        };
        let _ = writeln!(
            svg,
            r##"<circle cx="{0:.1}" cy="{1:.1}" r="4" fill="#d95f02"/><text x="{0:.1}" y="{2:.1}" fill="#d95f02" text-anchor="{anchor}">#{3} {4:.1} ms</text>"##,
            x(entry.dsps),
            y(entry.total_ms),
            y(entry.total_ms) + 18.0,
            entry.point,
            entry.total_ms
        );
    }
    frame.axis_titles(&mut svg, "DSPs used", "Latency per step (ms)");
    let _ = writeln!(
        svg,
        r##"<text x="{}" y="{}" text-anchor="end" fill="#d95f02">Pareto front ({} of {} simulated points)</text>"##,
        right - 8.0,
        top + 18.0,
        front.len(),
        simulated.len()
    );
    svg.push_str("</svg>\n");
    svg
}

/// A reason split into its text and its standalone numbers (`136` in `DSPs 136%`, but not the
/// `8` of `int8`).
fn reason_parts(reason: &str) -> (String, Vec<f64>) {
    let mut shape = String::new();
    let mut numbers = Vec::new();
    let mut chars = reason.char_indices().peekable();
    let mut previous: Option<char> = None;
    while let Some((start, c)) = chars.next() {
        let standalone = previous.is_none_or(|p| !p.is_alphanumeric() && p != '_');
        if c.is_ascii_digit() && standalone {
            let mut end = start + 1;
            while let Some(&(i, next)) = chars.peek() {
                if next.is_ascii_digit() || next == '.' {
                    end = i + next.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            let text = &reason[start..end];
            let followed_by_letter = chars.peek().is_some_and(|&(_, n)| n.is_alphabetic());
            match text.parse::<f64>() {
                Ok(number) if !followed_by_letter => {
                    shape.push('\u{0}');
                    numbers.push(number);
                }
                _ => shape.push_str(text),
            }
            previous = text.chars().last();
        } else {
            shape.push(c);
            previous = Some(c);
        }
    }
    (shape, numbers)
}

/// Skipped points grouped by the rule they broke, each number shown as the range it took
/// in the group (`DSPs 80–136% over the 75% budget`), most frequent first.
pub fn skip_reasons(entries: &[SweepEntry]) -> Vec<(String, usize)> {
    // (reason with its numbers taken out, points, range of each number)
    type Group = (String, usize, Vec<(f64, f64)>);
    let mut groups: Vec<Group> = Vec::new();
    for reason in entries.iter().filter_map(|e| e.reason.as_deref()) {
        let (shape, numbers) = reason_parts(reason);
        match groups.iter_mut().find(|(s, _, _)| *s == shape) {
            Some((_, count, ranges)) => {
                *count += 1;
                for (range, number) in ranges.iter_mut().zip(numbers) {
                    *range = (range.0.min(number), range.1.max(number));
                }
            }
            None => groups.push((shape, 1, numbers.iter().map(|&n| (n, n)).collect())),
        }
    }
    groups.sort_by_key(|group| std::cmp::Reverse(group.1));
    groups
        .into_iter()
        .map(|(shape, count, ranges)| {
            let number = |n: f64| format!("{n}");
            let mut text = String::new();
            for (i, piece) in shape.split('\u{0}').enumerate() {
                if i > 0 {
                    let (low, high) = ranges[i - 1];
                    text.push_str(&if low == high {
                        number(low)
                    } else {
                        format!("{}–{}", number(low), number(high))
                    });
                }
                text.push_str(piece);
            }
            (text, count)
        })
        .collect()
}

/// Printed summary: best points, the front, skipped points by reason, prescreen agreement.
pub fn sweep_summary(entries: &[SweepEntry]) -> String {
    let mut out = String::new();
    let simulated: Vec<&SweepEntry> = entries.iter().filter(|e| e.reason.is_none()).collect();
    let skipped = entries.len() - simulated.len();
    let _ = writeln!(
        out,
        "{} points: {} simulated, {} skipped",
        entries.len(),
        simulated.len(),
        skipped
    );
    for (reason, count) in skip_reasons(entries) {
        let _ = writeln!(out, "  skipped {count}: {reason}");
    }
    let mut ranked = simulated.clone();
    ranked.sort_by(|a, b| {
        a.total_ms
            .total_cmp(&b.total_ms)
            .then(a.point.cmp(&b.point))
    });
    let _ = writeln!(out, "\nbest points (latency per step):");
    let mut rows = Vec::new();
    for entry in ranked.iter().take(10) {
        let values: Vec<String> = entry
            .values
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        rows.push(vec![
            entry.point.to_string(),
            format!("{:.3}", entry.total_ms),
            entry
                .ms_per_camera
                .map(|m| format!("{m:.3}"))
                .unwrap_or_else(|| "-".into()),
            entry.dsps.to_string(),
            format!("{:.1}%", 100.0 * entry.efficiency),
            entry.bottleneck.clone(),
            values.join(" "),
        ]);
    }
    out.push_str(&super::table::aligned(
        &[
            "point",
            "ms",
            "ms/camera",
            "DSPs",
            "efficiency",
            "bottleneck",
            "parameters",
        ],
        &rows,
    ));
    let front = pareto_front(entries);
    let _ = writeln!(
        out,
        "\nPareto front (DSPs, ms): {}",
        front
            .iter()
            .map(|e| format!("({}, {:.3})", e.dsps, e.total_ms))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let predicted: Vec<(&SweepEntry, f64)> = simulated
        .iter()
        .filter_map(|e| e.predicted_ms.map(|p| (*e, p)))
        .collect();
    if predicted.len() >= 2 {
        let mut pairs = 0u64;
        let mut disagree = 0u64;
        let mut analytical_ties = 0u64;
        for (i, (a, pa)) in predicted.iter().enumerate() {
            for (b, pb) in &predicted[i + 1..] {
                pairs += 1;
                if pa == pb && a.total_ms != b.total_ms {
                    // The analytical model cannot tell apart what the simulation can: a tie
                    // it would break only by chance.
                    analytical_ties += 1;
                } else if (pa < pb) != (a.total_ms < b.total_ms) && a.total_ms != b.total_ms {
                    disagree += 1;
                }
            }
        }
        let best_predicted = predicted
            .iter()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(e, _)| e.point);
        let best_simulated = ranked.first().map(|e| e.point);
        let _ = writeln!(
            out,
            "prescreen: the analytical ranking and the simulated ranking disagree on {disagree} of {pairs} pairs ({:.1}%), and the analytical model ties {analytical_ties} pairs the simulation separates; best predicted point {} vs best simulated {}",
            100.0 * disagree as f64 / pairs as f64,
            best_predicted.map_or("-".into(), |p| p.to_string()),
            best_simulated.map_or("-".into(), |p| p.to_string()),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_reasons_keep_names_and_show_number_ranges() {
        let entry = |reason: &str| SweepEntry {
            point: 0,
            reason: Some(reason.to_string()),
            dsps: 0,
            total_ms: f64::NAN,
            ms_per_camera: None,
            frames_per_s: 0.0,
            efficiency: 0.0,
            bottleneck: String::new(),
            predicted_ms: None,
            values: Vec::new(),
        };
        let entries = [
            entry("DSPs 136% over the 75% budget"),
            entry("arrays: 4 arrays of 64x64 need 8192 DSPs at int8"),
            entry("DSPs 80% over the 75% budget"),
            entry("DSPs 91% over the 75% budget"),
        ];
        assert_eq!(
            skip_reasons(&entries),
            [
                ("DSPs 80–136% over the 75% budget".to_string(), 3),
                (
                    "arrays: 4 arrays of 64x64 need 8192 DSPs at int8".to_string(),
                    1
                ),
            ]
        );
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(tick_step(6451.0), 1000.0);
        assert_eq!(tick_step(310.5), 50.0);
        assert_eq!(tick_step(8.0), 1.0);
        assert_eq!(tick_step(0.9), 0.1);
    }
}
