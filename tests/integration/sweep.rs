//! Sweeps through the real binary: resume, shards, constraints, prescreen, bad configs.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

const SWEEP: &str = r#"
base_design = "design.toml"
encoders = ["text"]
cameras = 1

[axes]
array_count = [1, 2]
array_shape = ["16x16", "32x32"]
tm = [64, 128]
tk = { start = 128, end = 256, factor = 2 }
slots = [1, 2]

[constraints]
max_dsp_share = 0.75
max_bram_share = 0.75
max_uram_share = 0.75
"#;

/// A folder with the sweep and its base design (the built-in one).
fn setup(sweep: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("design.toml"),
        roofsim::config::design::DEFAULT_DESIGN,
    )
    .unwrap();
    let path = dir.path().join("sweep.toml");
    std::fs::write(&path, sweep).unwrap();
    (dir, path)
}

/// Runs `roofsim sweep --sweep PATH --out OUT EXTRA...`.
fn run_sweep(path: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    Command::cargo_bin("roofsim")
        .unwrap()
        .args(["sweep", "--sweep"])
        .arg(path)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

/// A sweep that must succeed; returns its summary.
fn sweep(path: &Path, out: &Path, extra: &[&str]) -> String {
    let output = run_sweep(path, out, extra);
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// The `total_ms` column of a sweep's rows, in order.
fn total_ms(out: &Path) -> Vec<f64> {
    let text = read(&out.join("sweep.csv"));
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let column = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "total_ms")
        .unwrap();
    reader
        .records()
        .map(|r| r.unwrap()[column].parse().unwrap())
        .collect()
}

#[test]
fn same_rows_whatever_the_jobs_and_outputs_written() {
    let (dir, path) = setup(SWEEP);
    let one = dir.path().join("one");
    let two = dir.path().join("two");
    let summary = sweep(&path, &one, &["--jobs", "1"]);
    sweep(&path, &two, &["--jobs", "2"]);
    let rows = read(&one.join("sweep.csv"));
    assert_eq!(rows, read(&two.join("sweep.csv")));
    assert_eq!(rows.lines().count(), 1 + 32);
    assert!(
        summary.contains("32 points: 32 simulated, 0 skipped"),
        "{summary}"
    );
    assert!(read(&one.join("pareto.svg")).contains("Pareto front"));
    // The report: the front and a row per simulated point, fastest first, best point first.
    let html = read(&one.join("report.html"));
    assert!(html.contains("<svg") && html.contains("Pareto front"));
    assert_eq!(html.matches("<tr>").count(), 1 + 32);
    let best = read(&one.join("best.toml"));
    let best_point = best["# Best point ".len()..].split(' ').next().unwrap();
    assert!(html.contains(&format!("<tbody>\n<tr><td>{best_point}</td>")));
    assert!(best.starts_with("# Best point"));
    // The winning design is ready for `simulate`.
    let platform = roofsim::config::platform::default_platform();
    let source = roofsim::config::Source::built_in("best.toml", &best);
    roofsim::config::design::load_design(&source, &platform).unwrap();
}

#[test]
fn resume_after_an_interruption_loses_and_repeats_nothing() {
    let (dir, path) = setup(SWEEP);
    let full = dir.path().join("full");
    sweep(&path, &full, &[]);
    let reference = read(&full.join("sweep.csv"));

    // A run killed after 5 rows, in the middle of writing the 6th.
    let cut = dir.path().join("cut");
    std::fs::create_dir_all(&cut).unwrap();
    let lines: Vec<&str> = reference.lines().collect();
    let mut interrupted = lines[..6].join("\n") + "\n";
    interrupted.push_str(&lines[6][..10]);
    std::fs::write(cut.join("sweep.csv"), interrupted).unwrap();
    let meta = read(&full.join("sweep.meta.json"));
    std::fs::write(cut.join("sweep.meta.json"), &meta).unwrap();
    // A leftover temporary file of the killed run is cleaned up.
    std::fs::write(cut.join(".pareto.svg.roofsim-partial"), "half").unwrap();
    // A user's own file of a like name stays.
    std::fs::write(cut.join(".notes.partial"), "mine").unwrap();

    let summary = sweep(&path, &cut, &["--resume"]);
    assert!(
        summary.starts_with("5 of 32 points in this run were already in sweep.csv; simulated 27"),
        "{summary}"
    );
    assert_eq!(read(&cut.join("sweep.csv")), reference);
    assert!(!cut.join(".pareto.svg.roofsim-partial").exists());
    assert_eq!(read(&cut.join(".notes.partial")), "mine");
}

/// Runs `roofsim ARGS`, expects exit code 2 and returns the one-line error.
fn refused(args: &[&std::ffi::OsStr]) -> String {
    let output = Command::cargo_bin("roofsim")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    stderr
}

/// Resuming another sweep's folder would pair new parameters with old results: refused,
/// naming what differs, and the folder is left as it was.
#[test]
fn resume_refuses_rows_of_another_sweep() {
    let (dir, path) = setup(SWEEP);
    let out = dir.path().join("out");
    sweep(&path, &out, &[]);
    let before = read(&out.join("sweep.csv"));
    let changed = dir.path().join("changed.toml");
    std::fs::write(
        &changed,
        SWEEP.replace("tm = [64, 128]", "tm = [1024, 2048]"),
    )
    .unwrap();
    let args = |sweep: &Path, extra: &[&str]| -> Vec<std::ffi::OsString> {
        let mut args: Vec<std::ffi::OsString> =
            ["sweep", "--resume", "--sweep"].map(Into::into).to_vec();
        args.push(sweep.into());
        args.push("--out".into());
        args.push(out.clone().into());
        args.extend(extra.iter().map(Into::into));
        args
    };
    for (sweep_file, extra, differs) in [
        (&changed, &[][..], "spec.axes"),
        (&path, &["--cameras", "2"][..], "workload.cameras"),
        (&path, &["--prescreen", "4"][..], "prescreen"),
        (&path, &["--shard", "1/2"][..], "shard"),
    ] {
        let args = args(sweep_file, extra);
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        let error = refused(&args);
        assert!(
            error.contains("cannot resume") && error.contains(differs),
            "{error}"
        );
    }
    assert_eq!(read(&out.join("sweep.csv")), before);
    // Rows another build simulated (its models may give other numbers) are not mixed in:
    // the meta file records the build's source digest.
    let meta_path = out.join("sweep.meta.json");
    let meta = read(&meta_path);
    let digest = env!("ROOFSIM_SOURCE_DIGEST");
    assert!(meta.contains(&format!("\"build\": \"{digest}\"")), "{meta}");
    std::fs::write(&meta_path, meta.replace(digest, "0123456789abcdef")).unwrap();
    let args_now = args(&path, &[]);
    let args_now: Vec<&std::ffi::OsStr> = args_now.iter().map(|a| a.as_os_str()).collect();
    let error = refused(&args_now);
    assert!(
        error.contains("cannot resume") && error.contains("build"),
        "{error}"
    );
    std::fs::write(&meta_path, &meta).unwrap();
    // A folder without its meta file cannot be told apart from another sweep's.
    std::fs::remove_file(out.join("sweep.meta.json")).unwrap();
    let args = args(&path, &[]);
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    assert!(refused(&args).contains("sweep.meta.json"));
}

#[test]
fn shards_merge_into_the_single_run() {
    let (dir, path) = setup(SWEEP);
    let full = dir.path().join("full");
    sweep(&path, &full, &[]);
    let mut shards = Vec::new();
    for shard in ["0/3", "1/3", "2/3"] {
        let out = dir.path().join(shard.replace('/', "-"));
        sweep(&path, &out, &["--shard", shard]);
        shards.push(out.join("sweep.csv"));
    }
    let merged = dir.path().join("merged");
    Command::cargo_bin("roofsim")
        .unwrap()
        .args(["merge", "--out"])
        .arg(&merged)
        .args(&shards)
        .assert()
        .success();
    for name in ["sweep.csv", "pareto.svg", "best.toml", "report.html"] {
        assert_eq!(read(&merged.join(name)), read(&full.join(name)), "{name}");
    }

    let merge = |shards: &[&PathBuf]| {
        let mut args: Vec<&std::ffi::OsStr> = vec!["merge".as_ref(), "--out".as_ref()];
        args.push(merged.as_os_str());
        args.extend(shards.iter().map(|s| s.as_os_str()));
        refused(&args)
    };
    let error = merge(&[&shards[0], &shards[2]]);
    assert!(error.contains("shards missing: [1/3]"), "{error}");
    // A shard cut mid-row is named, not reported as a bare CSV record number.
    let original = read(&shards[1]);
    let cut = original.len() - original.lines().last().unwrap().len() / 2 - 1;
    std::fs::write(&shards[1], &original[..cut]).unwrap();
    let error = merge(&[&shards[0], &shards[1], &shards[2]]);
    let name = shards[1].display().to_string();
    assert!(
        error.contains(&name) && error.contains("not a whole sweep.csv"),
        "{error}"
    );
    std::fs::write(&shards[1], &original).unwrap();
    let error = merge(&[&shards[0], &shards[1], &shards[1], &shards[2]]);
    assert!(error.contains("given more than once: [1/3]"), "{error}");
    // A hand-edited meta file naming a shard outside its sweep is refused, not a panic.
    let meta_path = shards[2].with_extension("meta.json");
    let meta = read(&meta_path);
    let edited = meta.replace(
        "\"shard\": [\n    2,\n    3\n  ]",
        "\"shard\": [\n    7,\n    3\n  ]",
    );
    assert_ne!(meta, edited, "{meta}");
    std::fs::write(&meta_path, &edited).unwrap();
    let error = merge(&[&shards[0], &shards[1], &shards[2]]);
    assert!(error.contains("names shard 7/3"), "{error}");
    std::fs::write(&meta_path, &meta).unwrap();
    // ...and so is one whose axes were edited into nonsense (the spec is read back from it).
    let metas: Vec<(PathBuf, String)> = shards
        .iter()
        .map(|shard| {
            let path = shard.with_extension("meta.json");
            let text = read(&path);
            (path, text)
        })
        .collect();
    for (from, to) in [
        ("\"name\": \"tm\"", "\"name\": \"tq\""),
        ("\"64\"", "\"sixty-four\""),
    ] {
        for (path, original) in &metas {
            assert!(original.contains(from), "{original}");
            std::fs::write(path, original.replace(from, to)).unwrap();
        }
        let error = merge(&[&shards[0], &shards[1], &shards[2]]);
        assert!(error.contains("describes no valid sweep"), "{error}");
    }
    for (path, original) in &metas {
        std::fs::write(path, original).unwrap();
    }
    // A shard of a sweep with other axes.
    let other = dir.path().join("other.toml");
    std::fs::write(&other, SWEEP.replace("slots = [1, 2]", "slots = [2]")).unwrap();
    let other_out = dir.path().join("other-1");
    sweep(&other, &other_out, &["--shard", "1/3"]);
    let foreign = other_out.join("sweep.csv");
    let error = merge(&[&shards[0], &foreign, &shards[2]]);
    assert!(
        error.contains("another sweep") && error.contains("spec.axes"),
        "{error}"
    );
    // An unfinished shard (killed after two rows).
    let text = read(&shards[1]);
    let cut: Vec<&str> = text.lines().take(3).collect();
    std::fs::write(&shards[1], cut.join("\n") + "\n").unwrap();
    let error = merge(&[&shards[0], &shards[1], &shards[2]]);
    assert!(error.contains("unfinished (2 of"), "{error}");
}

#[test]
fn points_over_budget_are_skipped_with_the_reason() {
    let (dir, path) = setup(&SWEEP.replace("max_dsp_share = 0.75", "max_dsp_share = 0.1"));
    let out = dir.path().join("out");
    let summary = sweep(&path, &out, &[]);
    // 2 arrays of 32x32 take 1024 DSPs, over 10 % of 9,024.
    assert!(summary.contains("24 simulated, 8 skipped"), "{summary}");
    assert!(
        summary.contains("skipped 8: DSPs 11% over the 10% budget"),
        "{summary}"
    );
    let rows = read(&out.join("sweep.csv"));
    assert!(
        rows.contains(",skipped,DSPs 11% over the 10% budget,2,32x32,"),
        "{rows}"
    );
}

#[test]
fn prescreen_simulates_only_the_best_k() {
    let (dir, path) = setup(SWEEP);
    let out = dir.path().join("out");
    let summary = sweep(&path, &out, &["--prescreen", "6"]);
    let rows = read(&out.join("sweep.csv"));
    assert_eq!(rows.lines().count(), 1 + 6);
    let mut reader = csv::Reader::from_reader(rows.as_bytes());
    let column = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "predicted_ms")
        .unwrap();
    let kept: Vec<u64> = reader
        .records()
        .map(Result::unwrap)
        .map(|row| {
            assert!(row[column].parse::<f64>().unwrap() > 0.0, "{row:?}");
            row[0].parse().unwrap()
        })
        .collect();
    // They are the six best of all 32 points by the analytical model.
    let source = roofsim::config::Source::from_path(&path).unwrap();
    let spec = roofsim::sweep::load_sweep(&source, roofsim::sweep::MAX_POINTS, |_| {
        let base = roofsim::config::Source::built_in("d", roofsim::config::design::DEFAULT_DESIGN);
        Ok((roofsim::config::design::parse_design(&base)?, base.name))
    })
    .unwrap();
    let (model, policy) = (
        roofsim::config::model::default_model(),
        roofsim::config::model::default_policy(),
    );
    let choices = roofsim::workload::WorkloadChoices {
        batch: 1,
        ..Default::default()
    };
    let inputs = roofsim::sweep::SweepInputs {
        spec: &spec,
        choices: &choices,
        model: &model,
        policy: Some(&policy),
        platform: &roofsim::config::platform::default_platform(),
        max_events: roofsim::sim::DEFAULT_MAX_EVENTS,
    };
    let cache = roofsim::sweep::KernelCache::default();
    let mut ranked: Vec<(f64, u64)> = (0..spec.point_count())
        .filter_map(|i| {
            roofsim::sweep::predict_seconds(&inputs, &spec.point(i), &cache).map(|s| (s, i))
        })
        .collect();
    ranked.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut best: Vec<u64> = ranked[..6].iter().map(|&(_, i)| i).collect();
    best.sort();
    assert_eq!(kept, best);
    assert!(
        summary.contains("prescreen: the analytical ranking and the simulated ranking disagree on"),
        "{summary}"
    );
}

fn rejects(sweep_text: &str, needle: &str) {
    let (dir, path) = setup(sweep_text);
    let out = dir.path().join("out");
    let output = run_sweep(&path, &out, &[]);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(needle) && stderr.contains("sweep.toml"),
        "{needle}: {stderr}"
    );
    assert!(!out.exists());
}

#[test]
fn bad_sweep_configs_are_rejected() {
    rejects(&SWEEP.replace("slots = [1, 2]", "slotz = [1, 2]"), "slotz");
    rejects(&SWEEP.replace("tm = [64, 128]", "tm = []"), "axes.tm");
    rejects(
        &SWEEP.replace("\"16x16\"", "\"16by16\""),
        "axes.array_shape",
    );
    rejects(&SWEEP.replace("factor = 2", "factor = 1"), "axes.tk");
    // A value that is neither a list nor a range says what an axis is (not a type name).
    rejects(
        &SWEEP.replace("tm = [64, 128]", "tm = \"abc\""),
        "expected a list of values, or a range { start, end, step }",
    );
    rejects(
        &SWEEP.replace("encoders = [\"text\"]", "encoders = [\"audio\"]"),
        "encoders",
    );
    rejects(
        &SWEEP.replace("max_dsp_share = 0.75", "max_dsp_share = 1.5"),
        "constraints.max_dsp_share",
    );
    // An odd channel count cannot be split into weight and activation halves.
    rejects(
        &SWEEP.replace("slots = [1, 2]", "slots = [1, 2]\nhbm_channels = [4, 3]"),
        "`3`: needs an even number",
    );
    rejects(
        &SWEEP.replace("slots = [1, 2]", "slots = [1, 2]\nloop_order = [\"kmn\"]"),
        "axes.loop_order",
    );
    rejects(
        &SWEEP.replace("slots = [1, 2]", "slots = [1, 2]\nschedule = [\"overlap\"]"),
        "axes.schedule`: `overlap`: expected sequential, overlap_kernels or overlap_layers",
    );
    rejects(
        &SWEEP.replace(
            "max_dsp_share = 0.75",
            "max_dsp_share = 0.75\nmin_expected_clock_mhz = 0",
        ),
        "constraints.min_expected_clock_mhz`: 0 is outside 1-1000 MHz",
    );
    // Ranges that would never end or overflow, and spaces too large to hold.
    rejects(
        &SWEEP.replace(
            "tm = [64, 128]",
            "tm = { start = 1, end = 18446744073709551615, step = 1 }",
        ),
        "axes.tm",
    );
    let huge = (0..4)
        .map(|i| {
            format!(
                "{} = {{ start = 1, end = 1000, step = 1 }}",
                ["tm", "tn", "tk", "slots"][i]
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    rejects(
        &format!("encoders = [\"text\"]\n[axes]\n{huge}\n"),
        "more than 100000 points",
    );
    // A kernel filter that matches nothing is refused before any point runs.
    rejects(
        &SWEEP.replace("cameras = 1", "cameras = 1\nkernels = [\"qkv_projj\"]"),
        "did you mean `text/qkv_proj`",
    );
    // So is a mapping axis naming an engine the base design lacks (it was a skipped point).
    rejects(
        &format!("{SWEEP}\n[axes.mapping]\n\"text/o_proj\" = [\"array\", \"arry\"]\n"),
        "axes.mapping.\"text/o_proj\"`: the base design has no engine `arry`; did you mean `array`?",
    );
}

/// A factor range that would overflow stops at the largest value below `end`; the points
/// beyond the platform are skipped, not a panic.
#[test]
fn overflowing_factor_ranges_stop_at_the_largest_value() {
    let text = "base_design = \"design.toml\"\nencoders = [\"connector\"]\ncameras = 1\n\
                [axes]\ntm = { start = 1, end = 18446744073709551615, factor = 2 }\n";
    let (dir, path) = setup(text);
    let out = dir.path().join("out");
    let summary = sweep(&path, &out, &[]);
    let rows = read(&out.join("sweep.csv"));
    // 2^0 ..= 2^63: 64 points, the last one with tm = 2^63.
    assert_eq!(rows.lines().count(), 1 + 64);
    assert!(rows.contains(",9223372036854775808,"), "tm up to 2^63");
    assert!(
        summary.contains("tiling.tm: must be between 1 and 1048576"),
        "{summary}"
    );
}

/// A sweep none of whose points runs is an error, claims no file it did not write, and
/// removes the stale best design of an earlier run.
#[test]
fn a_sweep_with_nothing_simulated_is_an_error() {
    let (dir, path) = setup(SWEEP);
    let out = dir.path().join("out");
    sweep(&path, &out, &[]);
    assert!(out.join("best.toml").exists() && out.join("report.html").exists());
    let none_fit = SWEEP.replace("max_dsp_share = 0.75", "max_dsp_share = 0.001");
    std::fs::write(&path, none_fit).unwrap();
    let output = run_sweep(&path, &out, &[]);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no point was simulated"), "{stderr}");
    assert!(
        stderr.contains("DSPs") && stderr.contains("0% budget"),
        "{stderr}"
    );
    assert!(!stderr.contains("wrote"), "{stderr}");
    for stale in ["best.toml", "pareto.svg", "report.html"] {
        assert!(!out.join(stale).exists(), "{stale}");
    }
}

/// A `[constraints]` table that gives one budget takes the documented 75 % for the others.
#[test]
fn partial_constraints_take_the_default_budgets() {
    let text = SWEEP.replace(
        "max_dsp_share = 0.75\nmax_bram_share = 0.75\nmax_uram_share = 0.75",
        "max_dsp_share = 0.75",
    );
    let (dir, path) = setup(&text);
    let (dir_full, path_full) = setup(SWEEP);
    let out = dir.path().join("out");
    let full = dir_full.path().join("out");
    sweep(&path, &out, &[]);
    sweep(&path_full, &full, &[]);
    assert_eq!(total_ms(&out), total_ms(&full));
}

#[test]
fn a_kernel_subset_is_simulated_alone() {
    let (dir, path) = setup(&SWEEP.replace(
        "cameras = 1\n",
        "cameras = 1\nkernels = [\"text/down_proj\"]\n",
    ));
    let subset = dir.path().join("subset");
    sweep(&path, &subset, &[]);
    let (dir_all, path_all) = setup(SWEEP);
    let all = dir_all.path().join("all");
    sweep(&path_all, &all, &[]);
    let subset_ms = total_ms(&subset);
    let all_ms = total_ms(&all);
    assert_eq!(subset_ms.len(), 32);
    assert!(subset_ms.iter().zip(&all_ms).all(|(s, a)| s < a));
}

#[test]
fn command_line_workload_options_reach_every_point() {
    let (dir, path) = setup(&SWEEP.replace("cameras = 1\n", ""));
    let one = dir.path().join("one");
    let eight = dir.path().join("eight");
    // The same two points (0 and 16) in both runs.
    sweep(&path, &one, &["--shard", "0/16"]);
    sweep(
        &path,
        &eight,
        &["--shard", "0/16", "--batch", "8", "--language-tokens", "16"],
    );
    let (one_ms, eight_ms) = (total_ms(&one), total_ms(&eight));
    assert_eq!(one_ms.len(), 2);
    // Eight observations of a shorter prefix take longer than one, but less than eight.
    for (one, eight) in one_ms.iter().zip(&eight_ms) {
        assert!(*eight > *one && *eight < 8.0 * one, "{one} vs {eight}");
    }
    assert!(read(&eight.join("best.toml")).contains("--batch 8"));
}

/// Ctrl-C during a sweep says how to resume, leaves whole rows, and the resumed sweep ends
/// with the rows a single run writes.
#[cfg(unix)]
#[test]
fn an_interrupted_sweep_says_how_to_resume() {
    let (dir, path) = setup(&SWEEP.replace("encoders = [\"text\"]", "encoders = [\"vision\"]"));
    let out = dir.path().join("out");
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("roofsim"))
        .args(["sweep", "--jobs", "1", "--sweep"])
        .arg(&path)
        .arg("--out")
        .arg(&out)
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Interrupt once the first rows are in.
    let csv = out.join("sweep.csv");
    let started = std::time::Instant::now();
    while std::fs::read_to_string(&csv).map_or(0, |t| t.lines().count()) < 3 {
        assert!(started.elapsed().as_secs() < 60, "the sweep wrote no rows");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted") && stderr.contains("--resume"),
        "{stderr}"
    );
    let rows = read(&csv);
    assert!(rows.ends_with('\n') && rows.lines().count() < 33, "{rows}");
    let summary = sweep(&path, &out, &["--resume"]);
    assert!(!summary.starts_with("0 of"), "{summary}");
    let full = dir.path().join("full");
    sweep(&path, &full, &[]);
    assert_eq!(read(&csv), read(&full.join("sweep.csv")));
}

/// A skip reason quoting the user's text (an engine name holding an escaped line break) is
/// one line, in `sweep.csv` and in what the sweep prints.
#[test]
fn skip_reasons_stay_one_line() {
    let (dir, path) = setup(SWEEP);
    let design = format!(
        "{}\n[[engines]]\nname = \"a\\nb\"\nkind = \"vector\"\nlanes = 4\n",
        roofsim::config::design::DEFAULT_DESIGN
    );
    std::fs::write(dir.path().join("design.toml"), design).unwrap();
    let out = dir.path().join("out");
    let output = run_sweep(&path, &out, &[]);
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("`a\\nb`"), "{stderr}");
    let rows = read(&out.join("sweep.csv"));
    assert_eq!(rows.lines().count(), 1 + 32, "{rows}");
}

/// Per-SLR budgets: three 64×64 INT8 arrays put 2,048 DSPs on each SLR, 75 % of SLR0's
/// 2,736, so a 70 % per-SLR budget skips them (naming the SLR) while 32×64 arrays pass; an
/// array too big for SLR0 alone is skipped by the design's own check.
#[test]
fn sweeps_cap_resources_per_slr() {
    let spec = "base_design = \"design.toml\"\nencoders = [\"vision\"]\nkernels = [\"vision/fc2\"]\n\
                [axes]\narray_count = [3]\narray_shape = [\"32x64\", \"64x64\", \"80x72\"]\n\
                [constraints]\nmax_slr_dsp_share = 0.7\n";
    let (dir, path) = setup(spec);
    let out = dir.path().join("out");
    let summary = sweep(&path, &out, &["--cameras", "1", "--vision-layers", "1"]);
    let rows = read(&out.join("sweep.csv"));
    let reasons: Vec<&str> = rows
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap())
        .collect();
    assert_eq!(reasons[0], "", "{rows}");
    assert_eq!(
        reasons[1], "SLR0 DSPs 75% over the 70% per-SLR budget",
        "{rows}"
    );
    assert!(reasons[2].contains("SLR0 would need 2880 DSPs"), "{rows}");
    assert!(
        summary.contains("3 points: 1 simulated, 2 skipped"),
        "{summary}"
    );
}

/// Per-SLR LUT and super-long-line budgets: the 64×64 arrays' logic (2,048 DSPs × 92 LUTs)
/// and 256 vector lanes' (× 226) fill 61 % of SLR0's LUTs, over a 60 % budget; 32×64
/// arrays take 38 %. A 5 % line budget skips every point: each boundary carries the HBM
/// paths of the engines above it (2,088 of 23,040 lines on SLR0-SLR1, 9 %).
#[test]
fn sweeps_cap_luts_and_lines_per_slr() {
    let reasons = |constraints: &str| -> Vec<String> {
        let spec = format!(
            "base_design = \"design.toml\"\nencoders = [\"vision\"]\nkernels = [\"vision/fc2\"]\n\
             [axes]\narray_count = [3]\narray_shape = [\"32x64\", \"64x64\"]\n\
             [constraints]\n{constraints}\n"
        );
        let (dir, path) = setup(&spec);
        let out = dir.path().join("out");
        let _ = run_sweep(&path, &out, &["--cameras", "1", "--vision-layers", "1"]);
        read(&out.join("sweep.csv"))
            .lines()
            .skip(1)
            .map(|l| l.split(',').nth(2).unwrap().to_string())
            .collect()
    };
    let luts = reasons("max_slr_lut_share = 0.6");
    assert_eq!(luts[0], "", "{luts:?}");
    assert_eq!(
        luts[1], "SLR0 LUTs 61% over the 60% per-SLR budget",
        "{luts:?}"
    );
    let lines = reasons("max_slr_sll_share = 0.05");
    assert_eq!(
        lines,
        vec!["SLR1 SLLs below 9% over the 5% per-SLR budget"; 2],
        "{lines:?}"
    );
}

/// `--verify K` runs the K fastest Pareto points again on the bank-level HBM: their fast
/// latencies are the sweep's, the bank model's are close (the points are compute-bound) and
/// the ranks are a permutation of 1..K.
#[test]
fn verify_reruns_the_pareto_front_on_the_bank_model() {
    let (dir, path) = setup(SWEEP);
    let out = dir.path().join("out");
    let summary = sweep(&path, &out, &["--verify", "2"]);
    assert!(summary.contains("bank-level check"), "{summary}");
    let mut reader = csv::Reader::from_path(out.join("verify.csv")).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2, "{summary}");
    let sweep_rows = read(&out.join("sweep.csv"));
    let mut ranks = Vec::new();
    for row in &rows {
        let fast: f64 = row[2].parse().unwrap();
        let dram: f64 = row[3].parse().unwrap();
        assert!((dram / fast - 1.0).abs() < 0.05, "{row:?}");
        assert!(
            sweep_rows
                .lines()
                .any(|line| line.starts_with(&format!("{},", &row[0])))
        );
        assert_eq!(
            row[5].parse::<usize>().unwrap(),
            ranks.len() + 1,
            "fast ranks in order"
        );
        ranks.push(row[6].parse::<usize>().unwrap());
    }
    ranks.sort();
    assert_eq!(ranks, [1, 2]);
    let output = run_sweep(&path, &dir.path().join("bad"), &["--verify", "0"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8(output.stderr)
            .unwrap()
            .contains("--verify")
    );
}

/// The shipped per-SLR sweep runs and its ceilings bite where they should: one 96 × 96 INT4
/// array (2,304 DSPs, a quarter of the chip's) is skipped at 84 % of SLR0's, while three
/// 64 × 64 INT8 arrays (75 % of each SLR) run; the fastest point is INT4 on six 64 × 64
/// arrays. Catches per-SLR budgets that are parsed but not applied, or applied to the
/// chip's totals.
#[test]
fn the_shipped_per_slr_sweep_applies_its_ceilings() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/sweeps/smolvla-per-slr.toml");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let summary = sweep(&path, &out, &["--vision-layers", "1", "--text-layers", "1"]);
    assert!(
        summary.contains("96 points: 66 simulated, 30 skipped"),
        "{summary}"
    );
    let mut reader = csv::Reader::from_path(out.join("sweep.csv")).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let header = reader.headers().unwrap().clone();
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let point = |count: &str, shape: &str, precision: &str| {
        rows.iter()
            .find(|r| {
                r[column("array_count")] == *count
                    && r[column("array_shape")] == *shape
                    && r[column("precision")] == *precision
                    && r[column("tm")] == *"256"
            })
            .unwrap()
            .clone()
    };
    let crowded = point("1", "96x96", "int4");
    assert_eq!(
        &crowded[column("reason")],
        "SLR0 DSPs 84% over the 80% per-SLR budget",
    );
    assert_eq!(&point("3", "64x64", "int8")[column("status")], "ok");
    let best = rows
        .iter()
        .filter(|r| &r[column("status")] == "ok")
        .min_by(|a, b| {
            let ms = |r: &csv::StringRecord| r[column("total_ms")].parse::<f64>().unwrap();
            ms(a).total_cmp(&ms(b))
        })
        .unwrap();
    assert_eq!(
        [
            &best[column("array_count")],
            &best[column("array_shape")],
            &best[column("precision")]
        ],
        ["6", "64x64", "int4"]
    );
}

/// `tools/sweep-cluster.sh`, run from another folder: locally (shards at once, then merged),
/// and as a Slurm array would run it (each task one shard, from the submit folder, the
/// shard count the array's, then `--merge` as the dependent job), both byte-identical to
/// one run; a shard count the array disagrees with is refused.
#[test]
fn the_cluster_script_merges_into_the_single_run_from_any_folder() {
    let (dir, path) = setup(SWEEP);
    let full = dir.path().join("full");
    sweep(&path, &full, &[]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/sweep-cluster.sh");
    let binary = env!("CARGO_BIN_EXE_roofsim");
    let script_run = |args: &[&str], slurm: &[(&str, &str)]| {
        let mut command = Command::new("bash");
        command
            .arg(&script)
            .args(args)
            .current_dir(dir.path())
            .env("ROOFSIM", binary);
        for name in [
            "SLURM_ARRAY_TASK_ID",
            "SLURM_ARRAY_TASK_COUNT",
            "SLURM_JOB_ID",
        ] {
            command.env_remove(name);
        }
        command.envs(slurm.iter().copied());
        command.output().unwrap()
    };
    let same_as_full = |out: &str| {
        for name in ["sweep.csv", "pareto.svg", "best.toml"] {
            assert_eq!(
                read(&dir.path().join(out).join(name)),
                read(&full.join(name)),
                "{out}/{name}"
            );
        }
    };
    // The sweep named as the single run names it (its path is in pareto.svg's title).
    let spec = path.to_str().unwrap();
    let local = script_run(&[spec, "local", "3"], &[]);
    assert!(local.status.success(), "{local:?}");
    same_as_full("local");

    let submit = dir.path().to_str().unwrap();
    for task in ["0", "1", "2"] {
        let slurm = [
            ("SLURM_ARRAY_TASK_ID", task),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
            ("SLURM_JOB_ID", "7"),
            ("SLURM_SUBMIT_DIR", submit),
        ];
        let ran = script_run(&[spec, "cluster"], &slurm);
        assert!(ran.status.success(), "{ran:?}");
    }
    let merged = script_run(&["--merge", "cluster"], &[("SLURM_SUBMIT_DIR", submit)]);
    assert!(merged.status.success(), "{merged:?}");
    same_as_full("cluster");

    let slurm = [
        ("SLURM_ARRAY_TASK_ID", "0"),
        ("SLURM_ARRAY_TASK_COUNT", "3"),
        ("SLURM_SUBMIT_DIR", submit),
    ];
    let refused = script_run(&[spec, "wrong", "4"], &slurm);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8(refused.stderr).unwrap();
    assert!(stderr.contains("the array has 3 tasks"), "{stderr}");
}

/// The loop order, weight layout and activation layout axes reach the design: each value
/// changes the simulated figures (a value that did not apply would repeat the row of the
/// point that differs from it in that axis alone), and the best design carries its values.
#[test]
fn loop_order_and_layout_axes_apply() {
    let text = "base_design = \"design.toml\"\nencoders = [\"text\"]\ncameras = 1\n\
                [axes]\ntm = [32]\ntn = [32]\ntk = [256]\nloop_order = [\"mnk\", \"nmk\"]\n\
                weight_layout = [\"row_major\", \"tile_major\"]\n\
                activation_layout = [\"row_major\", \"head_major\"]\n";
    let (dir, path) = setup(text);
    let out = dir.path().join("out");
    sweep(&path, &out, &[]);
    let ms = total_ms(&out);
    assert_eq!(ms.len(), 8);
    // Points enumerate the axes in order, the last fastest: bit 0 is the activation
    // layout, bit 1 the weight layout, bit 2 the loop order.
    for point in 0..8 {
        for axis in [1, 2, 4] {
            let other = point ^ axis;
            assert_ne!(ms[point], ms[other], "points {point} and {other}: {ms:?}");
        }
    }
    let best = read(&out.join("best.toml"));
    assert!(best.contains("loop_order = \"") && best.contains("weight_layout = \""));
    // The default layout is left out of a design file.
    let index: usize = best
        .split("Best point ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        best.contains("activation_layout = \"head_major\""),
        index & 1 == 1,
        "{best}"
    );
}

/// A sweep file outside the checkout may name a shipped design as its base, as a system
/// file may: the INT4 design's precision reaches the points, and a name that is neither a
/// file nor a shipped design is refused naming both.
#[test]
fn a_sweeps_base_may_be_a_shipped_design_by_name() {
    let spec = "base_design = \"u280-int4\"\nencoders = [\"vision\"]\nkernels = [\"vision/fc2\"]\n\
                [axes]\ntm = [256, 512]\n";
    let (dir, path) = setup(spec);
    let out = dir.path().join("out");
    sweep(&path, &out, &["--cameras", "1", "--vision-layers", "1"]);
    let best = read(&out.join("best.toml"));
    assert!(best.contains("precision = \"int4\""), "{best}");
    let (dir, path) = setup(&spec.replace("u280-int4", "u280-int5"));
    let refused = run_sweep(&path, &dir.path().join("out"), &[]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8(refused.stderr).unwrap();
    assert!(
        stderr.contains("u280-int5: no such file, nor a shipped design"),
        "{stderr}"
    );
}
