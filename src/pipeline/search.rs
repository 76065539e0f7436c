//! Search jobs: look for the best design of a sweep file's space within a budget of
//! simulations (resumable), and say how far it is from the DSP-bound limit.

use super::Error;
use super::sweep::front_files;
use crate::config::platform::Platform;
use crate::lower::Bill;
use crate::report::sweep::{SweepCsv, SweepEntry, read_sweep, sweep_header};
use crate::report::{self, ReportError};
use crate::search::{Evaluator, Found, Settings, Space};
use crate::sim::Bottleneck;
use crate::sweep::{
    Constraints, KernelCache, Outcome, PointResult, SweepIdentity, SweepInputs,
    check_kernel_filter, evaluate, predict_points, prepare, run_points,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// What a search minimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    /// Milliseconds per step (every observation of a batch waits for the step).
    Latency,
    /// Milliseconds per observation (the step over its batch): the inverse of throughput.
    Throughput,
    /// Millijoules per observation, the middle of the power model's range (the platform's
    /// `[power]`). The analytical prescreen ranks by time per observation: on the U280 the
    /// board's static power is 35.6-41.4 W of the 40-66 W a design draws.
    Energy,
}

impl Objective {
    /// The unit of the simulated figures the search minimises.
    pub fn unit(self) -> &'static str {
        match self {
            Objective::Latency => "ms per step",
            Objective::Throughput => "ms per observation",
            Objective::Energy => "mJ per observation",
        }
    }

    /// The analytical figure of a step predicted to take `step_s` seconds at `batch`.
    fn predicted(self, step_s: f64, batch: u64) -> f64 {
        match self {
            Objective::Latency => step_s * 1e3,
            Objective::Throughput | Objective::Energy => step_s * 1e3 / batch as f64,
        }
    }

    /// The simulated figure of a row of `search.csv` (`column` finds a column's text), read
    /// from the columns as written, so a figure read back on resume is the number computed
    /// when the row was written.
    fn simulated<'a>(self, column: impl Fn(&str) -> Option<&'a str>, batch: u64) -> Option<f64> {
        let number = |name: &str| column(name)?.parse::<f64>().ok();
        match self {
            Objective::Latency => number("total_ms"),
            Objective::Throughput => Some(number("total_ms")? / batch as f64),
            Objective::Energy => Some((number("energy_mj_min")? + number("energy_mj_max")?) / 2.0),
        }
    }
}

/// How to run a search.
#[derive(Debug, Clone, Copy)]
pub struct SearchOptions {
    /// Points simulated at once.
    pub jobs: usize,
    /// Answer earlier designs from the output folder's search.csv.
    pub resume: bool,
    /// Budget, seed and fixed axes.
    pub settings: Settings,
    /// What the search minimises.
    pub objective: Objective,
}

/// What `search.meta.json` holds: everything the rows of `search.csv` depend on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchMeta {
    identity: SweepIdentity,
    settings: Settings,
    objective: Objective,
}

/// Where a search stands, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct SearchProgress {
    /// Designs simulated so far.
    pub simulated: u64,
    /// The best figure so far, in the objective's unit.
    pub best: Option<f64>,
}

/// The figures the search asks for, from the analytical model and the simulation; rows are
/// appended to `search.csv` as they are simulated. Points already in the file (a resumed
/// search) are answered from it: the search, being deterministic, asks for them first.
struct SimulatingEvaluator<'a> {
    inputs: &'a SweepInputs<'a>,
    objective: Objective,
    jobs: usize,
    cache: KernelCache,
    csv: SweepCsv,
    header: Vec<String>,
    /// Figures of the rows already in `search.csv`.
    earlier: HashMap<u64, Option<f64>>,
    predicted_ms: HashMap<u64, f64>,
    progress: &'a dyn Fn(SearchProgress),
    simulated: u64,
    best: Option<f64>,
    /// Wall time spent ranking and simulating.
    predict_time: Duration,
    simulate_time: Duration,
    /// Simulations run by this process (not read back).
    simulated_here: u64,
    error: Option<ReportError>,
}

impl SimulatingEvaluator<'_> {
    fn batch_of(&self, point: u64) -> u64 {
        self.inputs
            .spec
            .apply(&self.inputs.spec.point(point))
            .ok()
            .and_then(|(_, batch)| batch)
            .unwrap_or(self.inputs.choices.batch)
    }

    /// A row's figure under the objective; `None` for a skipped row.
    fn figure_of_record(&self, point: u64, record: &[String]) -> Option<f64> {
        let column = |name: &str| {
            let index = self.header.iter().position(|h| h == name)?;
            record.get(index).map(String::as_str)
        };
        if column("status") != Some("ok") {
            return None;
        }
        self.objective.simulated(column, self.batch_of(point))
    }

    fn note(&mut self, figure: Option<f64>) {
        self.simulated += 1;
        if let Some(figure) = figure {
            self.best = Some(self.best.map_or(figure, |best| best.min(figure)));
        }
        (self.progress)(SearchProgress {
            simulated: self.simulated,
            best: self.best,
        });
    }
}

impl Evaluator for SimulatingEvaluator<'_> {
    fn predict(&mut self, points: &[u64]) -> Vec<Option<f64>> {
        if self.stopped() {
            return vec![None; points.len()];
        }
        let start = Instant::now();
        let seconds = predict_points(self.inputs, points, self.jobs, &self.cache);
        self.predict_time += start.elapsed();
        points
            .iter()
            .zip(seconds)
            .map(|(&point, seconds)| {
                let seconds = seconds?;
                self.predicted_ms.insert(point, seconds * 1e3);
                Some(self.objective.predicted(seconds, self.batch_of(point)))
            })
            .collect()
    }

    fn simulate(&mut self, points: &[u64]) -> Vec<Option<f64>> {
        let mut figures: HashMap<u64, Option<f64>> = HashMap::new();
        let new: Vec<u64> = points
            .iter()
            .copied()
            .filter(|p| !self.earlier.contains_key(p))
            .collect();
        for &point in points {
            if let Some(&figure) = self.earlier.get(&point) {
                figures.insert(point, figure);
                self.note(figure);
            }
        }
        if !self.stopped() {
            let start = Instant::now();
            let cache = std::mem::take(&mut self.cache);
            let result = run_points(self.inputs, &new, self.jobs, &cache, |row| {
                let predicted_s = self.predicted_ms.get(&row.point.index).map(|ms| ms / 1e3);
                let record = report::sweep::sweep_record(&row, predicted_s);
                self.csv.append(&record)?;
                let figure = self.figure_of_record(row.point.index, &record);
                figures.insert(row.point.index, figure);
                self.simulated_here += 1;
                self.note(figure);
                Ok::<(), ReportError>(())
            });
            self.cache = cache;
            self.simulate_time += start.elapsed();
            self.error = result.err();
        }
        // A point left unsimulated (an error or a Ctrl-C stops the search) counts as refused;
        // the job reports the stop instead of the search's result.
        points
            .iter()
            .map(|p| figures.get(p).copied().flatten())
            .collect()
    }

    fn stopped(&self) -> bool {
        self.error.is_some() || crate::cancel::requested()
    }
}

/// Runs a search into `out`: `search.meta.json` (what the search is), `search.csv` (every
/// simulated design in the order simulated, streamed), then `pareto.svg`, `best.toml` and
/// `report.html`. A resume whose folder holds another search's rows is refused, naming what
/// differs.
pub fn search(
    inputs: &SweepInputs,
    options: &SearchOptions,
    out: &Path,
    progress: &dyn Fn(SearchProgress),
) -> Result<super::SweepOutcome, Error> {
    let spec = inputs.spec;
    check_kernel_filter(inputs)?;
    let meta = SearchMeta {
        identity: SweepIdentity::new(inputs, None),
        settings: options.settings,
        objective: options.objective,
    };
    let csv_path = out.join("search.csv");
    let meta_path = out.join("search.meta.json");
    let header = sweep_header(spec);
    let earlier_rows = if options.resume && csv_path.exists() {
        check_resumable(&meta_path, &meta)?;
        earlier_records(&csv_path)?
    } else {
        Vec::new()
    };
    let space = Space::new(spec.axes.iter().map(|a| a.values.len() as u64).collect())
        .expect("a loaded space spans at most MAX_SEARCH_POINTS points");
    std::fs::create_dir_all(out).map_err(ReportError::io(out))?;
    let meta_text = serde_json::to_vec_pretty(&meta).expect("a search's meta serialises");
    report::write_all(out, &[("search.meta.json", meta_text)])?;
    let kept: Vec<u64> = earlier_rows.iter().map(|(point, _)| *point).collect();
    let (csv, done) = SweepCsv::open(&csv_path, &header, &kept, options.resume)?;
    let mut evaluator = SimulatingEvaluator {
        inputs,
        objective: options.objective,
        jobs: options.jobs,
        cache: KernelCache::default(),
        csv,
        header,
        earlier: HashMap::new(),
        predicted_ms: HashMap::new(),
        progress,
        simulated: 0,
        best: None,
        predict_time: Duration::ZERO,
        simulate_time: Duration::ZERO,
        simulated_here: 0,
        error: None,
    };
    for (point, record) in &earlier_rows[..done] {
        let figure = evaluator.figure_of_record(*point, record);
        evaluator.earlier.insert(*point, figure);
    }
    let found = crate::search::search(&space, &options.settings, &mut evaluator);
    if let Some(error) = evaluator.error.take() {
        return Err(error.into());
    }
    if crate::cancel::requested() {
        return Err(crate::sim::SimError::Interrupted.into());
    }
    let text = std::fs::read_to_string(&csv_path).map_err(ReportError::io(&csv_path))?;
    let entries = read_sweep(&text, spec)?;
    let speed = format!(
        "ranked {} designs analytically in {:.1} s ({:.0} per minute); simulated {} in {:.1} s ({:.1} per minute){}\n",
        found.predicted,
        evaluator.predict_time.as_secs_f64(),
        per_minute(found.predicted as u64, evaluator.predict_time),
        evaluator.simulated_here,
        evaluator.simulate_time.as_secs_f64(),
        per_minute(evaluator.simulated_here, evaluator.simulate_time),
        if done > 0 {
            format!("; {done} more read back from search.csv")
        } else {
            String::new()
        },
    );
    let (files, summary) = finish(inputs, options, &found, &entries, &evaluator.cache)?;
    report::write_all(out, &files)?;
    let mut written = vec!["search.meta.json", "search.csv"];
    written.extend(files.iter().map(|(name, _)| *name));
    Ok(super::SweepOutcome {
        summary: format!("{speed}{summary}"),
        written,
    })
}

/// The whole rows of an earlier run's `search.csv` (a row cut by a kill has no newline yet),
/// each with its point.
fn earlier_records(csv_path: &Path) -> Result<Vec<(u64, Vec<String>)>, Error> {
    let text = std::fs::read_to_string(csv_path).map_err(ReportError::io(csv_path))?;
    let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    let unreadable = |reason: String| ReportError::Mismatch {
        path: csv_path.to_path_buf(),
        reason: format!("cannot resume: not a search's rows ({reason})"),
    };
    let mut rows = Vec::new();
    for record in csv::Reader::from_reader(complete.as_bytes()).records() {
        let record = record.map_err(|error| unreadable(error.to_string()))?;
        let point = record
            .get(0)
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| unreadable("a row without a point index".into()))?;
        rows.push((point, record.iter().map(String::from).collect()));
    }
    Ok(rows)
}

fn per_minute(count: u64, time: Duration) -> f64 {
    count as f64 * 60.0 / time.as_secs_f64().max(1e-9)
}

/// Refuses to resume into a folder whose rows belong to another search.
fn check_resumable(meta_path: &Path, meta: &SearchMeta) -> Result<(), Error> {
    let mismatch = |reason: String| ReportError::Mismatch {
        path: meta_path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(meta_path).map_err(|_| {
        mismatch("cannot resume: it is missing or unreadable; run without --resume".into())
    })?;
    let earlier: SearchMeta = serde_json::from_str(&text)
        .map_err(|error| mismatch(format!("cannot resume: not a search meta file ({error})")))?;
    let mut differences = earlier.identity.differences(&meta.identity);
    if earlier.settings != meta.settings {
        differences.push("the budget or the seed".into());
    }
    if earlier.objective != meta.objective {
        differences.push("the objective".into());
    }
    if differences.is_empty() {
        Ok(())
    } else {
        Err(mismatch(format!(
            "cannot resume: it holds another search's rows (differs in {}); run without \
             --resume or into another --out",
            differences.join(", ")
        ))
        .into())
    }
}

/// The files a finished search writes and its printed summary.
fn finish(
    inputs: &SweepInputs,
    options: &SearchOptions,
    found: &Found,
    entries: &[SweepEntry],
    cache: &KernelCache,
) -> Result<(report::Files, String), Error> {
    let spec = inputs.spec;
    let Some((best_point, best_figure)) = found.best() else {
        return Err(crate::config::ConfigError::invalid(
            &spec.source,
            "axes",
            format!(
                "no design of the space was simulated ({} ranked analytically); the reasons \
                 are in search.csv: {}",
                found.predicted,
                report::sweep::skip_reasons(entries)
                    .iter()
                    .map(|(reason, count)| format!("{count} × {reason}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        )
        .into());
    };
    let best = entries
        .iter()
        .find(|e| e.point == best_point)
        .expect("the best point was simulated into search.csv");
    let mut summary = format!(
        "searched {} ({} designs in its space), minimising {} within {} simulations, seed {}\n",
        spec.source,
        Space::new(spec.axes.iter().map(|a| a.values.len() as u64).collect())
            .map_or(0, |space| space.size()),
        options.objective.unit(),
        options.settings.budget,
        options.settings.seed,
    );
    let _ = writeln!(
        summary,
        "best: point {} at {best_figure:.3} {} ({:.3} ms per step, {} DSPs{})",
        best.point,
        options.objective.unit(),
        best.total_ms,
        best.dsps,
        if best.values.is_empty() {
            String::new()
        } else {
            let knobs: Vec<String> = best
                .values
                .iter()
                .map(|(axis, value)| format!("{axis} = {value}"))
                .collect();
            format!(": {}", knobs.join(", "))
        }
    );
    let point = spec.point(best_point);
    if let (Outcome::Simulated(result), Ok((design, workload))) =
        (evaluate(inputs, &point, cache), prepare(inputs, &point))
    {
        summary.push_str(&limit_text(
            &result,
            design.precision().compute(),
            design.clock_hz(),
            &spec.constraints,
            inputs.platform,
        ));
        let bill = Bill::of(&workload, &design, inputs.platform);
        summary.push_str(&report::resources::slr_text(&design, &bill));
    }
    summary.push('\n');
    summary.push_str(&report::sweep::sweep_summary(entries));
    let found_by = format!(
        "Found by `roofsim search` over {} (seed {}, {} simulations, objective {:?}): point {}",
        spec.source, options.settings.seed, options.settings.budget, options.objective, best.point
    );
    let files = front_files(
        "search",
        spec,
        entries,
        &summary,
        (best, inputs.choices.batch, &found_by),
    )?;
    Ok((files, summary))
}

/// DSPs the constraints allow: the chip's budget, and every SLR's (when the platform says
/// what each SLR offers), whichever is smaller.
pub fn dsp_budget(constraints: &Constraints, platform: &Platform) -> u64 {
    let chip = (constraints.max_dsp_share * platform.dsp_slices as f64).floor() as u64;
    let slrs: u64 = platform
        .slrs
        .iter()
        .map(|slr| (constraints.max_slr_dsp_share * slr.dsp_slices as f64).floor() as u64)
        .sum();
    if platform.slrs.is_empty() {
        chip
    } else {
        chip.min(slrs)
    }
}

/// How far a design is from the limit: the time its GEMM work takes on every DSP the
/// constraints allow, each completing the platform's MACs per cycle at the design's compute
/// precision, at the lowest clock the constraints accept (the platform's target when they
/// set none); then the simulated step split by cause. Compute beyond the limit is work on
/// fewer DSPs than allowed, on LUTs, or on engines below their peak (padding, fill and
/// drain of folds, engines waiting on each other).
fn limit_text(
    result: &PointResult,
    precision: crate::config::precision::Precision,
    clock_hz: f64,
    constraints: &Constraints,
    platform: &Platform,
) -> String {
    let dsps = dsp_budget(constraints, platform);
    let limit_hz = constraints
        .min_expected_clock_mhz
        .map_or(platform.clock_hz, |mhz| mhz * 1e6);
    let limit_s =
        result.gemm_ops / 2.0 / (dsps as f64 * platform.macs_per_dsp(precision) * limit_hz);
    let mut text = format!(
        "limit: {:.3} ms ({:.1} G MACs on {dsps} DSPs at {} MACs per DSP and {:.0} MHz); the best design takes {:.2}x that\n  its step by cause:",
        limit_s * 1e3,
        result.gemm_ops / 2e9,
        platform.macs_per_dsp(precision),
        limit_hz / 1e6,
        result.total_seconds / limit_s.max(f64::MIN_POSITIVE),
    );
    let total: u64 = result.attribution.iter().sum();
    for cause in Bottleneck::ALL {
        let cycles = result.attribution[cause as usize];
        if cycles > 0 {
            let _ = write!(
                text,
                " {} {:.3} ms ({:.1}%)",
                cause.name(),
                cycles as f64 / clock_hz * 1e3,
                100.0 * cycles as f64 / total.max(1) as f64
            );
        }
    }
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::platform::default_platform;
    use crate::config::precision::Precision;

    fn per_slr(share: f64) -> Constraints {
        Constraints {
            max_dsp_share: 1.0,
            max_bram_share: 1.0,
            max_uram_share: 1.0,
            max_slr_dsp_share: share,
            max_slr_bram_share: 1.0,
            max_slr_uram_share: 1.0,
            max_slr_lut_share: 1.0,
            max_slr_ff_share: 1.0,
            max_slr_sll_share: 1.0,
            min_expected_clock_mhz: None,
            max_power_w: None,
        }
    }

    /// Issue 20's figures, worked by hand: 75 % of each SLR's kernel-region DSPs (2,736,
    /// 2,880 and 2,880: docs/src/reference/u280-resources-power.md) is 2,052 + 2,160 + 2,160
    /// = 6,372, and the robot step's 419.8 G MACs at 4 INT4 MACs per DSP and 300 MHz take
    /// 54.9 ms on them. Catches a budget taken from the chip's 9,024 (which counts the static
    /// region) or rounded up per SLR.
    #[test]
    fn the_limit_is_the_work_on_every_dsp_the_constraints_allow() {
        let platform = default_platform();
        assert_eq!(dsp_budget(&per_slr(0.75), &platform), 6372);
        let chip_only = Constraints {
            max_dsp_share: 0.5,
            ..per_slr(1.0)
        };
        assert_eq!(dsp_budget(&chip_only, &platform), 4512);
        let mut attribution = [0; Bottleneck::COUNT];
        attribution[Bottleneck::Compute as usize] = 20_385_000;
        attribution[Bottleneck::HbmBandwidth as usize] = 1_980_000;
        let result = PointResult {
            dsps: 6144,
            bram_blocks: 0,
            uram_blocks: 0,
            dsp_share: 0.0,
            bram_share: 0.0,
            uram_share: 0.0,
            encoder_seconds: [None; crate::workload::Encoder::ALL.len()],
            total_seconds: 0.074_55,
            seconds_per_camera: None,
            frames_per_s: 0.0,
            ops_per_s: 0.0,
            efficiency: 0.0,
            bottleneck: Bottleneck::Compute,
            gemm_ops: 2.0 * 419.8e9,
            attribution,
            power_w: None,
            energy_j: None,
        };
        let text = limit_text(&result, Precision::Int4, 300e6, &per_slr(0.75), &platform);
        assert!(
            text.starts_with(
                "limit: 54.902 ms (419.8 G MACs on 6372 DSPs at 4 MACs per DSP and 300 MHz); \
                 the best design takes 1.36x that"
            ),
            "{text}"
        );
        assert!(
            text.contains("compute 67.950 ms (91.1%) hbm_bandwidth 6.600 ms (8.9%)\n"),
            "{text}"
        );
    }
}
