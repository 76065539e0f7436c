//! The jobs over many designs or boards: `sweep`, `merge`, `search` and `system`.

use super::out::prepare_out;
use super::run::{MAX_JOBS, Ran, load_inputs, option_error};
use super::{SearchArgs, SweepArgs, SystemArgs};
use crate::config::Source;
use crate::pipeline::{self, Error, MergeInput, SweepOptions};
use crate::sweep::SweepMeta;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};

pub(super) fn run_sweep(args: &SweepArgs) -> Result<Ran, Error> {
    if args.inputs.fuse.is_some() {
        return Err(option_error(
            "--fuse",
            "a sweep takes fusion from its base design and its `fusion` axis".into(),
        ));
    }
    let inputs = load_inputs(&args.inputs)?;
    let spec = pipeline::sweep_file(&args.sweep, crate::sweep::MAX_POINTS)?;
    let shard = match args
        .shard
        .split_once('/')
        .map(|(i, n)| (i.parse::<u64>(), n.parse::<u64>()))
    {
        Some((Ok(i), Ok(n))) if n > 0 && i < n => (i, n),
        _ => {
            return Err(option_error(
                "--shard",
                format!("expected I/N with 0 <= I < N, found `{}`", args.shard),
            ));
        }
    };
    let jobs = jobs_or_all_cores(args.jobs)?;
    if args.prescreen == Some(0) {
        return Err(option_error("--prescreen", "must be at least 1".into()));
    }
    if args.verify == Some(0) {
        return Err(option_error("--verify", "must be at least 1".into()));
    }
    if args.verify.is_some() && inputs.platform.hbm.dram.is_none() {
        return Err(option_error(
            "--verify",
            format!(
                "the bank-level model needs [hbm.dram] in the platform ({})",
                inputs.platform.source
            ),
        ));
    }
    let sweep_inputs = inputs.for_points(&spec, args.max_events);
    let options = SweepOptions {
        jobs,
        shard,
        prescreen: args.prescreen,
        resume: args.resume,
        verify: args.verify,
    };
    let _lock = prepare_out(&args.out)?;
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} points  {per_sec}  eta {eta}")
            .expect("a valid template"),
    );
    let summary = pipeline::sweep(&sweep_inputs, &options, &args.out, &|done, total| {
        bar.set_length(total);
        bar.set_position(done);
    });
    bar.finish_and_clear();
    let outcome = summary?;
    Ok(Ran::new(outcome.summary, &args.out, outcome.written))
}

/// `--jobs`, or every core.
fn jobs_or_all_cores(jobs: Option<usize>) -> Result<usize, Error> {
    match jobs {
        Some(jobs) if !(1..=MAX_JOBS).contains(&jobs) => Err(option_error(
            "--jobs",
            format!("must be between 1 and {MAX_JOBS}, found {jobs}"),
        )),
        Some(jobs) => Ok(jobs),
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

pub(super) fn run_search(args: &SearchArgs) -> Result<Ran, Error> {
    if args.inputs.fuse.is_some() {
        return Err(option_error(
            "--fuse",
            "a search takes fusion from its base design and its `fusion` axis".into(),
        ));
    }
    if !(1..=crate::search::MAX_BUDGET).contains(&args.budget) {
        return Err(option_error(
            "--budget",
            format!(
                "must be between 1 and {}, found {}",
                crate::search::MAX_BUDGET,
                args.budget
            ),
        ));
    }
    let inputs = load_inputs(&args.inputs)?;
    let mut spec = pipeline::sweep_file(&args.space, crate::search::MAX_SEARCH_POINTS)?;
    for pin in &args.fix {
        let (name, value) = pin.split_once('=').unwrap_or((pin, ""));
        let names: Vec<String> = spec.axes.iter().map(|a| a.name.clone()).collect();
        let axis = spec
            .axes
            .iter_mut()
            .find(|a| a.name == name)
            .ok_or_else(|| {
                option_error(
                    "--fix",
                    format!(
                        "`{name}` is no axis of {}{}",
                        spec.source,
                        crate::config::did_you_mean(name, &names)
                    ),
                )
            })?;
        if !axis.values.iter().any(|v| v == value) {
            return Err(option_error(
                "--fix",
                format!(
                    "`{value}` is not a value of axis `{name}` (it takes {})",
                    axis.values.join(", ")
                ),
            ));
        }
        axis.values = vec![value.to_string()];
    }
    let jobs = jobs_or_all_cores(args.jobs)?;
    let sweep_inputs = inputs.for_points(&spec, args.max_events);
    let options = pipeline::SearchOptions {
        jobs,
        resume: args.resume,
        settings: crate::search::Settings {
            budget: args.budget,
            seed: args.seed,
        },
        objective: args.objective,
    };
    let _lock = prepare_out(&args.out)?;
    let bar = ProgressBar::new(args.budget);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} designs simulated  {msg}  eta {eta}")
            .expect("a valid template"),
    );
    let outcome = pipeline::search(&sweep_inputs, &options, &args.out, &|progress| {
        bar.set_position(progress.simulated);
        if let Some(best) = progress.best {
            bar.set_message(format!("best {best:.3} {}", args.objective.unit()));
        }
    });
    bar.finish_and_clear();
    let outcome = outcome?;
    Ok(Ran::new(outcome.summary, &args.out, outcome.written))
}

pub(super) fn run_system(args: &SystemArgs) -> Result<Ran, Error> {
    if args.inputs.fuse.is_some() || args.inputs.platform.is_some() {
        return Err(option_error(
            "--fuse/--platform",
            "each board takes its fusion from its design and its platform from the system file"
                .into(),
        ));
    }
    let inputs = load_inputs(&args.inputs)?;
    let system = pipeline::system_file(&args.system)?;
    let systems = args
        .boards
        .iter()
        .map(|&count| system.with_boards(count))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|rule| option_error("--boards", rule))?;
    let _lock = prepare_out(&args.out)?;
    let (text, written) = if systems.is_empty() {
        pipeline::system(
            &system,
            &inputs.choices,
            &inputs.model,
            inputs.policy.as_ref(),
            args.max_events,
            &args.out,
        )?
    } else {
        pipeline::system_scaling(
            &systems,
            &inputs.choices,
            &inputs.model,
            inputs.policy.as_ref(),
            args.max_events,
            &args.out,
        )?
    };
    Ok(Ran::new(text, &args.out, written))
}

pub(super) fn run_merge(out: &Path, inputs: &[PathBuf]) -> Result<Ran, Error> {
    let shards = inputs
        .iter()
        .map(|path| {
            let meta_path = SweepMeta::path_beside(path);
            Ok(MergeInput {
                csv_path: path.clone(),
                csv: Source::from_path(path)?.text,
                meta: Source::from_path(&meta_path)?.text,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let _lock = prepare_out(out)?;
    let outcome = pipeline::merge(&shards, out)?;
    Ok(Ran::new(outcome.summary, out, outcome.written))
}
