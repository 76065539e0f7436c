//! Sweep jobs: run a design space into a folder (resumable, sharded) and merge shards.

use super::Error;
use crate::config::ConfigError;
use crate::config::design::MemoryModel;
use crate::report::sweep::{Cost, SweepCsv, SweepEntry, merge_sweeps, pareto_front};
use crate::report::{self, ReportError};
use crate::sweep::{
    KernelCache, Outcome, SweepIdentity, SweepInputs, SweepMeta, SweepSpec, check_kernel_filter,
    prescreen, run_points,
};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// How to run a sweep.
#[derive(Debug, Clone, Copy)]
pub struct SweepOptions {
    /// Points simulated at once.
    pub jobs: usize,
    /// `(i, n)`: run the points whose index is `i` modulo `n`.
    pub shard: (u64, u64),
    /// Simulate only the best K points of the analytical ranking.
    pub prescreen: Option<usize>,
    /// Keep the rows of an interrupted run and simulate only the others.
    pub resume: bool,
    /// Run the K fastest points of the Pareto front again on the bank-level HBM.
    pub verify: Option<usize>,
}

/// What a finished sweep (or merge) wrote and what to print.
#[derive(Debug)]
pub struct SweepOutcome {
    /// What the job prints.
    pub summary: String,
    /// The files written into the output folder, in the order written.
    pub written: Vec<&'static str>,
}

/// Runs a sweep into `out`: `sweep.meta.json` (what the sweep is), `sweep.csv` streamed row
/// by row, then `pareto.svg` and `best.toml`. `progress(done, total)` is called as rows are
/// written. A resume whose folder holds another sweep's rows is refused, naming what differs.
pub fn sweep(
    inputs: &SweepInputs,
    options: &SweepOptions,
    out: &Path,
    progress: &dyn Fn(u64, u64),
) -> Result<SweepOutcome, Error> {
    let spec = inputs.spec;
    check_kernel_filter(inputs)?;
    let identity = SweepIdentity::new(inputs, options.prescreen);
    let csv_path = out.join("sweep.csv");
    let meta_path = SweepMeta::path_beside(&csv_path);
    if options.resume && csv_path.exists() {
        check_resumable(&csv_path, &meta_path, &identity, options.shard)?;
    }
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
    std::fs::create_dir_all(out).map_err(ReportError::io(out))?;
    let meta = SweepMeta {
        identity,
        shard: [shard, shards],
        run_points: run.len() as u64,
    };
    let meta_text = serde_json::to_vec_pretty(&meta).expect("a sweep's meta serialises");
    report::write_all(out, &[("sweep.meta.json", meta_text)])?;
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
    // Asked to stop: the finished rows stay in sweep.csv, as after a Ctrl-C of the command.
    if crate::cancel::requested() {
        return Err(crate::sim::SimError::Interrupted.into());
    }
    let text = std::fs::read_to_string(&csv_path).map_err(ReportError::io(&csv_path))?;
    let batch = inputs.choices.batch;
    let (mut files, mut summary) = finish(spec, batch, &text, out)?;
    if let Some(keep) = options.verify {
        let entries = report::sweep::read_sweep(&text, spec)?;
        let (csv, text) = verify(inputs, &entries, keep, options.jobs)?;
        files.push(("verify.csv", csv));
        summary.push_str(&text);
    }
    report::write_all(out, &files)?;
    let mut written = vec!["sweep.meta.json", "sweep.csv"];
    written.extend(files.iter().map(|(name, _)| *name));
    Ok(SweepOutcome {
        summary: format!(
            "{done} of {} points in this run were already in sweep.csv; simulated {}\n{summary}",
            run.len(),
            run.len() - done
        ),
        written,
    })
}

/// Runs the `keep` fastest points of the Pareto front again with `memory = "dram"` (the
/// bank-level HBM) and says how their latency and ranking move: `verify.csv` and the text.
fn verify(
    inputs: &SweepInputs,
    entries: &[SweepEntry],
    keep: usize,
    jobs: usize,
) -> Result<(Vec<u8>, String), Error> {
    let mut front = pareto_front(entries, Cost::Dsps);
    front.sort_by(|a, b| {
        a.total_ms
            .total_cmp(&b.total_ms)
            .then(a.point.cmp(&b.point))
    });
    front.truncate(keep);
    let mut spec = inputs.spec.clone();
    spec.base.memory = MemoryModel::Dram;
    let dram_inputs = SweepInputs {
        spec: &spec,
        ..*inputs
    };
    let indices: Vec<u64> = front.iter().map(|entry| entry.point).collect();
    let mut dram_ms: BTreeMap<u64, Result<f64, String>> = BTreeMap::new();
    run_points(
        &dram_inputs,
        &indices,
        jobs,
        &KernelCache::default(),
        |row| {
            let result = match row.outcome {
                Outcome::Simulated(result) => Ok(result.total_seconds * 1e3),
                Outcome::Skipped(reason) => Err(reason),
            };
            dram_ms.insert(row.point.index, result);
            Ok::<(), Error>(())
        },
    )?;
    let mut bank_order: Vec<u64> = indices.clone();
    bank_order.sort_by(|a, b| {
        let ms = |point: &u64| dram_ms[point].as_ref().map_or(f64::INFINITY, |ms| *ms);
        ms(a).total_cmp(&ms(b)).then(a.cmp(b))
    });
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record([
            "point",
            "dsps",
            "fast_ms",
            "dram_ms",
            "difference_percent",
            "fast_rank",
            "dram_rank",
        ])
        .map_err(ReportError::from)?;
    let mut text = format!(
        "bank-level check (memory = \"dram\") of the {} fastest Pareto points:\n  point   dsps   fast ms   dram ms  difference  rank\n",
        front.len()
    );
    let mut moved = 0;
    for (fast_rank, entry) in front.iter().enumerate() {
        let dram_rank = bank_order
            .iter()
            .position(|p| *p == entry.point)
            .expect("verified");
        moved += usize::from(dram_rank != fast_rank);
        let (dram, difference) = match &dram_ms[&entry.point] {
            Ok(ms) => (
                format!("{ms:.3}"),
                format!("{:+.2}", (ms / entry.total_ms - 1.0) * 100.0),
            ),
            Err(reason) => (format!("skipped: {reason}"), String::new()),
        };
        let _ = writeln!(
            text,
            "  {:>5}  {:>5}  {:>8.3}  {dram:>8}  {difference:>9}%  {} -> {}",
            entry.point,
            entry.dsps,
            entry.total_ms,
            fast_rank + 1,
            dram_rank + 1
        );
        writer
            .write_record([
                entry.point.to_string(),
                entry.dsps.to_string(),
                format!("{:.6}", entry.total_ms),
                dram,
                difference,
                (fast_rank + 1).to_string(),
                (dram_rank + 1).to_string(),
            ])
            .map_err(ReportError::from)?;
    }
    text.push_str(&if moved == 0 {
        "  the bank model keeps the ranking\n".to_string()
    } else {
        format!("  the bank model moves {moved} of them in the ranking\n")
    });
    let csv = writer
        .into_inner()
        .map_err(|error| ReportError::Csv(error.into_error().into()))?;
    Ok((csv, text))
}

/// Refuses to resume into a folder whose rows belong to another sweep (or shard).
fn check_resumable(
    csv_path: &Path,
    meta_path: &Path,
    identity: &SweepIdentity,
    (shard, shards): (u64, u64),
) -> Result<(), Error> {
    let mismatch = |reason: String| ReportError::Mismatch {
        path: csv_path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(meta_path).map_err(|_| {
        mismatch(format!(
            "cannot resume: no readable {} beside it says which sweep wrote it; run without \
             --resume to start over",
            meta_path.display()
        ))
    })?;
    let meta: SweepMeta = serde_json::from_str(&text).map_err(|error| {
        mismatch(format!(
            "cannot resume: {} is not a sweep meta file ({error})",
            meta_path.display()
        ))
    })?;
    let mut differences = meta.identity.differences(identity);
    if meta.shard != [shard, shards] {
        differences.push(format!("shard ({}/{})", meta.shard[0], meta.shard[1]));
    }
    if differences.is_empty() {
        Ok(())
    } else {
        Err(mismatch(format!(
            "cannot resume: it holds another sweep's rows (differs in {}); run without --resume \
             or into another --out",
            differences.join(", ")
        ))
        .into())
    }
}

/// The files a sweep's rows lead to, `pareto.svg`, `best.toml` and `report.html`, and the
/// printed summary.
/// A sweep none of whose points was simulated is an error, and the stale plot and best
/// design of an earlier run in `out` are removed so nothing claims to come from it.
fn finish(
    spec: &SweepSpec,
    batch: u64,
    csv_text: &str,
    out: &Path,
) -> Result<(report::Files, String), Error> {
    let entries = report::sweep::read_sweep(csv_text, spec)?;
    let Some(best) = report::sweep::best_entry(&entries) else {
        for stale in ["pareto.svg", "pareto-watts.svg", "best.toml", "report.html"] {
            let path = out.join(stale);
            if path.exists() {
                std::fs::remove_file(&path).map_err(ReportError::io(&path))?;
            }
        }
        return Err(ConfigError::invalid(
            &spec.source,
            "axes",
            format!(
                "no point was simulated, so there is no Pareto front or best design; the \
                 reasons are in sweep.csv: {}",
                report::sweep::skip_reasons(&entries)
                    .iter()
                    .map(|(reason, count)| format!("{count} × {reason}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        )
        .into());
    };
    let summary = report::sweep::sweep_summary(&entries);
    let found = format!("Best point {} of {}", best.point, spec.source);
    let files = front_files("sweep", spec, &entries, &summary, (best, batch, &found))?;
    Ok((files, summary))
}

/// What a sweep or a search (`what`) writes from its rows: `pareto.svg` (latency against
/// DSPs), `pareto-watts.svg` (against board power, where the platform gives a power model),
/// `best.toml` (the design of `best`'s point at `batch`, found as `found` says) and
/// `report.html` (`summary`, the pictures, the simulated points fastest first).
pub(super) fn front_files(
    what: &str,
    spec: &SweepSpec,
    entries: &[SweepEntry],
    summary: &str,
    (best, batch, found): (&SweepEntry, u64, &str),
) -> Result<report::Files, Error> {
    let pareto = report::sweep::pareto_svg(
        &format!("{what} {}: latency against DSPs", spec.source),
        entries,
        Cost::Dsps,
    );
    let watts = entries
        .iter()
        .any(|e| e.reason.is_none() && e.power_w_max.is_some())
        .then(|| {
            report::sweep::pareto_svg(
                &format!("{what} {}: latency against board power", spec.source),
                entries,
                Cost::Watts,
            )
        });
    let best_toml = best_toml(spec, best, batch, found)?;
    let mut pictures = vec![(
        "Latency against DSPs, Pareto front highlighted",
        pareto.as_str(),
    )];
    if let Some(watts) = &watts {
        pictures.push((
            "Latency against board power (high end of its range), Pareto front highlighted",
            watts,
        ));
    }
    let html = report::html::report_html(
        &format!("roofsim {what}: {}", spec.source),
        (None, summary),
        &pictures,
        &[report::html::Table::new(
            "Simulated points, fastest first",
            &report::sweep::RANKED_COLUMNS,
            report::sweep::ranked_rows(entries),
        )],
    );
    let mut files = vec![("pareto.svg", pareto.into_bytes())];
    if let Some(watts) = watts {
        files.push(("pareto-watts.svg", watts.into_bytes()));
    }
    files.push(("best.toml", best_toml.into_bytes()));
    files.push(("report.html", html.into_bytes()));
    Ok(files)
}

/// `best.toml`: the design of `best`'s point, named after it, with a header saying how it
/// was found (`found`), its figures and the command that runs it.
fn best_toml(
    spec: &SweepSpec,
    best: &SweepEntry,
    batch: u64,
    found: &str,
) -> Result<String, Error> {
    let (mut design, point_batch) = spec
        .apply(&spec.point(best.point))
        .map_err(|rule| ConfigError::invalid(&spec.source, "axes", rule))?;
    design.name = format!("{}-best-{}", design.name, best.point);
    let body = toml::to_string(&design).expect("a design serialises");
    let batch = point_batch.unwrap_or(batch);
    Ok(format!(
        "# {found} ({:.3} ms per step, {} DSPs, batch {batch}).\n# Run it: roofsim simulate --design best.toml --batch {batch}\n{body}",
        best.total_ms, best.dsps
    ))
}

/// One shard's output to merge: its `sweep.csv` and the `sweep.meta.json` beside it.
#[derive(Debug)]
pub struct MergeInput {
    /// The shard's sweep.csv.
    pub csv_path: PathBuf,
    /// Its text.
    pub csv: String,
    /// Its sweep.meta.json's text.
    pub meta: String,
}

/// Joins the shards of one sweep into `out` as a single run writes it: `sweep.csv`,
/// `sweep.meta.json`, `pareto.svg`, `best.toml`. Refuses shards of different sweeps, missing,
/// duplicate or unfinished shards.
pub fn merge(inputs: &[MergeInput], out: &Path) -> Result<SweepOutcome, Error> {
    let mut metas: Vec<SweepMeta> = Vec::new();
    for input in inputs {
        let mismatch = |reason: String| ReportError::Mismatch {
            path: input.csv_path.clone(),
            reason,
        };
        let meta: SweepMeta = serde_json::from_str(&input.meta)
            .map_err(|error| mismatch(format!("its sweep.meta.json cannot be read ({error})")))?;
        let [shard, shards] = meta.shard;
        if shard >= shards {
            return Err(
                mismatch(format!("its sweep.meta.json names shard {shard}/{shards}")).into(),
            );
        }
        if let Some(first) = metas.first() {
            let differences = first.identity.differences(&meta.identity);
            if !differences.is_empty() || first.shard[1] != meta.shard[1] {
                return Err(mismatch(format!(
                    "a shard of another sweep than {} (differs in {})",
                    inputs[0].csv_path.display(),
                    if differences.is_empty() {
                        "the shard count".to_string()
                    } else {
                        differences.join(", ")
                    }
                ))
                .into());
            }
        }
        let rows = input.csv.lines().count().saturating_sub(1) as u64;
        if rows < meta.run_points {
            return Err(mismatch(format!(
                "shard {}/{} is unfinished ({rows} of {} points); run it again with --resume",
                meta.shard[0], meta.shard[1], meta.run_points
            ))
            .into());
        }
        metas.push(meta);
    }
    let Some(first) = metas.first() else {
        return Err(ConfigError::invalid("command line", "merge", "needs shard files").into());
    };
    first
        .identity
        .spec
        .check()
        .map_err(|reason| ReportError::Mismatch {
            path: inputs[0].csv_path.clone(),
            reason: format!("its sweep.meta.json describes no valid sweep: {reason}"),
        })?;
    let shards = first.shard[1];
    let mut seen: BTreeMap<u64, u32> = BTreeMap::new();
    for meta in &metas {
        *seen.entry(meta.shard[0]).or_default() += 1;
    }
    // A shard count can be far larger than the files given: name the first few missing.
    let missing: Vec<String> = (0..shards)
        .filter(|i| !seen.contains_key(i))
        .take(10)
        .map(|i| format!("{i}/{shards}"))
        .collect();
    let repeated: Vec<String> = seen
        .iter()
        .filter(|(_, count)| **count > 1)
        .map(|(i, _)| format!("{i}/{shards}"))
        .collect();
    if !missing.is_empty() || !repeated.is_empty() {
        return Err(ConfigError::invalid(
            "command line",
            "merge",
            format!(
                "shards missing: [{}]; given more than once: [{}]",
                missing.join(", "),
                repeated.join(", ")
            ),
        )
        .into());
    }
    let files: Vec<(String, String)> = inputs
        .iter()
        .map(|input| (input.csv_path.display().to_string(), input.csv.clone()))
        .collect();
    let merged = merge_sweeps(&files)?;
    let meta = SweepMeta {
        identity: first.identity.clone(),
        shard: [0, 1],
        run_points: metas.iter().map(|m| m.run_points).sum(),
    };
    let text = String::from_utf8(merged).expect("CSV of UTF-8 rows");
    let spec = &first.identity.spec;
    let (files, summary) = finish(spec, first.identity.workload.batch, &text, out)?;
    let mut all = vec![
        (
            "sweep.meta.json",
            serde_json::to_vec_pretty(&meta).expect("a sweep's meta serialises"),
        ),
        ("sweep.csv", text.into_bytes()),
    ];
    all.extend(files);
    report::write_all(out, &all)?;
    Ok(SweepOutcome {
        summary: format!("merged {shards} shards\n{summary}"),
        written: all.iter().map(|(name, _)| *name).collect(),
    })
}
