//! Drives the real `roofsim` binary: the default job, golden plots, and every bad-input case.

use assert_cmd::Command;
use std::path::Path;

fn roofsim() -> Command {
    Command::cargo_bin("roofsim").unwrap()
}

/// Runs `roofsim ARGS --out OUT`, checks it succeeded and returns what it printed.
fn succeeds(args: &[&str], out: &Path) -> String {
    let output = roofsim().args(args).arg("--out").arg(out).output().unwrap();
    assert!(output.status.success(), "{args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

fn files_in(dir: &Path) -> Vec<String> {
    if !dir.exists() {
        return Vec::new();
    }
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn default_roofline_writes_csv_and_plots() {
    let out = tempfile::tempdir().unwrap();
    let stdout = succeeds(&["roofline"], out.path());
    assert!(stdout.contains("241 text tokens"), "{stdout}");
    assert!(stdout.contains("vision encoder at int8"));
    assert_eq!(
        files_in(out.path()),
        ["roofline.csv", "text_roofline.svg", "vision_roofline.svg"]
    );

    let mut reader = csv::Reader::from_path(out.path().join("roofline.csv")).unwrap();
    let header = reader.headers().unwrap().clone();
    for column in [
        "encoder",
        "layer",
        "kernel",
        "op",
        "m",
        "n",
        "k",
        "batch",
        "precision",
        "macs",
        "flops",
        "bytes",
        "oi",
        "attainable_ops_per_s",
        "bound",
    ] {
        assert!(
            header.iter().any(|h| h == column),
            "missing column {column}"
        );
    }
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let int8_vision_macs: u64 = rows
        .iter()
        .filter(|row| &row[column("precision")] == "int8" && &row[column("encoder")] == "vision")
        .map(|row| row[column("macs")].parse::<u64>().unwrap())
        .sum();
    assert_eq!(int8_vision_macs, 3 * 106_904_420_352);
    let connector = rows
        .iter()
        .find(|row| &row[column("kernel")] == "proj" && &row[column("precision")] == "int8")
        .unwrap();
    assert_eq!(
        &connector[column("m")],
        "192",
        "64 tokens per camera, not 1"
    );
    let precisions: std::collections::BTreeSet<&str> =
        rows.iter().map(|row| &row[column("precision")]).collect();
    assert_eq!(precisions.len(), 6);
}

#[test]
fn plots_label_every_kernel_and_match_the_committed_ones() {
    let out = tempfile::tempdir().unwrap();
    roofsim()
        .args(["roofline", "--out"])
        .arg(out.path())
        .assert()
        .success();
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    for (name, labels) in [
        (
            "vision_roofline.svg",
            &["fc1", "softmax", "connector/proj", "pos_add"][..],
        ),
        (
            "text_roofline.svg",
            &["q_proj", "rope", "silu_mul", "down_proj"][..],
        ),
    ] {
        let svg = std::fs::read_to_string(out.path().join(name)).unwrap();
        for label in labels {
            assert!(svg.contains(label), "{name} lacks a label for {label}");
        }
        let golden = std::fs::read_to_string(committed.join(name)).unwrap();
        assert!(
            svg == golden,
            "{name} differs from tests/golden/{name}; if the change is intended, copy \
             traces/roofline/{name} from `cargo run --release -- roofline` there"
        );
    }
}

#[test]
fn batching_and_fusion_change_the_workload() {
    let out = tempfile::tempdir().unwrap();
    let stdout = succeeds(
        &[
            "roofline",
            "--batch",
            "8",
            "--cameras",
            "1",
            "--precision",
            "int4/int8",
            "--fuse",
            "all",
        ],
        out.path(),
    );
    assert!(
        stdout.contains(
            "1 camera(s), batch 8; 12 vision layers on all cameras as one batch; 113 text tokens = 64 image (1 x 64) + 48 \
             language + 1 state"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("vision encoder at int4/int8, fusion all"));
    assert!(stdout.contains("fc1_gelu") && stdout.contains("qkv_proj"));
    assert!(stdout.contains("attention") && !stdout.contains("softmax"));
}

/// Runs a bad invocation and checks: exit code 2, one line naming `needles`, nothing written.
fn rejects(args: &[&str], needles: &[&str]) {
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("result");
    let output = roofsim()
        .args(args)
        .arg("--out")
        .arg(&target)
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "{args:?}: `{needle}` not in {stderr}"
        );
    }
    assert!(!target.exists(), "{args:?} wrote output");
}

fn write_temp(name: &str, text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    (dir, path.to_string_lossy().into_owned())
}

#[test]
fn missing_model_file() {
    rejects(
        &["roofline", "--model", "no/such/config.json"],
        &["no/such/config.json", "no such file, nor a shipped model"],
    );
}

#[test]
fn malformed_json() {
    let (_dir, path) = write_temp("config.json", r#"{"model_type": "llama", "#);
    rejects(&["roofline", "--model", &path], &[&path, "line 1"]);
}

#[test]
fn wrong_field_type_in_model() {
    let (_dir, path) = write_temp(
        "config.json",
        r#"{"model_type": "smolvlm", "vision_config": {"hidden_size": -3}, "text_config": {}}"#,
    );
    rejects(
        &["roofline", "--model", &path],
        &[&path, "vision_config.hidden_size"],
    );
}

#[test]
fn unknown_platform_field() {
    let text = roofsim::config::platform::DEFAULT_PLATFORM
        .replace("clock_mhz = 300.0", "clock_mhz = 300.0\nclock_ghz = 0.3");
    let (_dir, path) = write_temp("u280.toml", &text);
    rejects(&["roofline", "--platform", &path], &[&path, "clock_ghz"]);
}

#[test]
fn malformed_toml() {
    let (_dir, path) = write_temp("u280.toml", "name = \"x\"\nclock_mhz = [\n");
    rejects(&["roofline", "--platform", &path], &[&path]);
}

#[test]
fn zero_clock() {
    let text =
        roofsim::config::platform::DEFAULT_PLATFORM.replace("clock_mhz = 300.0", "clock_mhz = 0.0");
    let (_dir, path) = write_temp("u280.toml", &text);
    rejects(&["roofline", "--platform", &path], &[&path, "clock_mhz"]);
}

#[test]
fn zero_cameras() {
    rejects(
        &["roofline", "--cameras", "0"],
        &["--cameras", "between 1 and 1024"],
    );
    rejects(
        &["simulate", "--trace", "--cameras", "0"],
        &["--cameras", "between 1 and 1024"],
    );
}

#[test]
fn policy_without_cameras() {
    let (_dir, path) = write_temp(
        "policy.json",
        r#"{"type": "smolvla", "input_features": {"observation.state": {"type": "STATE"}}}"#,
    );
    rejects(&["roofline", "--policy", &path], &[&path, "input_features"]);
}

#[test]
fn unknown_precision() {
    rejects(
        &["roofline", "--precision", "int2"],
        &["--precision", "int2"],
    );
}

#[test]
fn unknown_fusion() {
    rejects(&["roofline", "--fuse", "softmax"], &["--fuse", "softmax"]);
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    let out = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_roofsim"))
        .args(["roofline", "--out"])
        .arg(out.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    assert!(child.wait().unwrap().success());
}

fn simulate_with_threads(threads: &str, trace: bool, out: &Path) {
    let output = roofsim()
        .env("RAYON_NUM_THREADS", threads)
        .args(["simulate", "--out"])
        .arg(out)
        .args(trace.then_some("--trace"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains("ms per camera") && stdout.contains("observations/s"),
        "{stdout}"
    );
}

/// The bank-level HBM on the whole default model: byte-identical for one and two threads,
/// and within 1 % of the fast model it was fitted to (the default is compute-bound).
#[test]
fn the_bank_model_runs_the_whole_model_the_same_on_any_thread_count() {
    let text =
        roofsim::config::design::DEFAULT_DESIGN.replace("memory = \"hbm\"", "memory = \"dram\"");
    let (_dir, design) = write_temp("dram.toml", &text);
    let run = |threads: &str, design: Option<&str>| {
        let out = tempfile::tempdir().unwrap();
        let output = roofsim()
            .env("RAYON_NUM_THREADS", threads)
            .arg("simulate")
            .args(design.map(|d| ["--design", d]).into_iter().flatten())
            .arg("--out")
            .arg(out.path())
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        out
    };
    let (one, two, fast) = (
        run("1", Some(&design)),
        run("2", Some(&design)),
        run("2", None),
    );
    for name in ["kernels.csv", "channels.csv", "engines.csv", "summary.json"] {
        let a = std::fs::read(one.path().join(name)).unwrap();
        let b = std::fs::read(two.path().join(name)).unwrap();
        assert!(a == b, "{name} differs between 1 and 2 threads");
    }
    let total_ms = |dir: &Path| -> f64 {
        let summary: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
        summary["total"]["ms"].as_f64().unwrap()
    };
    let (dram_ms, fast_ms) = (total_ms(one.path()), total_ms(fast.path()));
    assert!(
        (dram_ms / fast_ms - 1.0).abs() < 0.01,
        "{dram_ms} vs {fast_ms}"
    );
    assert!(
        std::fs::read_to_string(one.path().join("summary.json"))
            .unwrap()
            .contains("\"memory\": \"dram\"")
    );
}

#[test]
fn simulation_outputs_are_identical_for_one_and_two_threads_and_with_a_trace() {
    // Without a trace the distinct layers run in parallel; with one, in order on one thread.
    let one = tempfile::tempdir().unwrap();
    let two = tempfile::tempdir().unwrap();
    let traced = tempfile::tempdir().unwrap();
    simulate_with_threads("1", false, one.path());
    simulate_with_threads("2", false, two.path());
    simulate_with_threads("2", true, traced.path());
    assert_eq!(
        files_in(one.path()),
        [
            "attribution.svg",
            "channels.csv",
            "crosscheck.svg",
            "engines.csv",
            "kernels.csv",
            "report.html",
            "resources.csv",
            "summary.json",
            "utilization.svg"
        ]
    );
    assert_eq!(
        files_in(traced.path()),
        [
            "attribution.svg",
            "channels.csv",
            "crosscheck.svg",
            "engines.csv",
            "kernels.csv",
            "report.html",
            "resources.csv",
            "summary.json",
            "trace.csv",
            "utilization.svg"
        ]
    );
    for name in [
        "kernels.csv",
        "channels.csv",
        "engines.csv",
        "summary.json",
        "crosscheck.svg",
        "attribution.svg",
        "utilization.svg",
    ] {
        let a = std::fs::read(one.path().join(name)).unwrap();
        let b = std::fs::read(two.path().join(name)).unwrap();
        let c = std::fs::read(traced.path().join(name)).unwrap();
        assert!(a == b, "{name} differs between 1 and 2 threads");
        assert!(a == c, "{name} differs with a trace");
    }
    let kernels = std::fs::read_to_string(one.path().join("kernels.csv")).unwrap();
    let header = kernels.lines().next().unwrap();
    for column in [
        "bytes_tiled",
        "oi_tiled",
        "cycles",
        "efficiency",
        "bottleneck",
    ] {
        assert!(header.split(',').any(|h| h == column), "missing {column}");
    }
    // Every cycle of every kernel is accounted to one cause.
    let mut reader = csv::Reader::from_reader(kernels.as_bytes());
    let names = reader.headers().unwrap().clone();
    let causes = roofsim::sim::Bottleneck::ALL.map(|c| format!("{}_cycles", c.name()));
    let cause_columns: Vec<usize> = (0..names.len())
        .filter(|&i| causes.iter().any(|c| c == &names[i]))
        .collect();
    assert_eq!(cause_columns.len(), roofsim::sim::Bottleneck::ALL.len());
    let cycles = names.iter().position(|h| h == "cycles").unwrap();
    for row in reader.records().map(Result::unwrap) {
        let sum: u64 = cause_columns
            .iter()
            .map(|&i| row[i].parse::<u64>().unwrap())
            .sum();
        assert_eq!(sum, row[cycles].parse::<u64>().unwrap());
    }
    let trace = std::fs::read_to_string(traced.path().join("trace.csv")).unwrap();
    assert!(trace.starts_with("start_cycle,end_cycle,resource,kernel,node,kind,bytes\n"));
    assert!(trace.lines().count() > 1000);
}

#[test]
fn lone_gemm_with_ideal_memory_matches_the_fold_model() {
    let out = tempfile::tempdir().unwrap();
    roofsim()
        .args([
            "simulate",
            "--gemm",
            "100x70x50",
            "--array",
            "16x8",
            "--dataflow",
            "ws",
            "--ideal-memory",
            "--out",
        ])
        .arg(out.path())
        .assert()
        .success();
    let mut reader = csv::Reader::from_path(out.path().join("kernels.csv")).unwrap();
    let header = reader.headers().unwrap().clone();
    let row = reader.records().next().unwrap().unwrap();
    let cycles: u64 = row[header.iter().position(|h| h == "cycles").unwrap()]
        .parse()
        .unwrap();
    // ws: rows take K = 50, columns N = 70, M = 100 streams: 4 × 9 folds of a 16-cycle
    // preload plus 16 + 8 + 100 − 2.
    assert_eq!(cycles, 4 * 9 * (16 + 16 + 8 + 100 - 2));

    // The study idealises the chip too: GEMMs whose one tile no SLR's URAM holds, and
    // arrays larger than an SLR's DSPs, run (they were refused, advising `slr = N`), and
    // the summary says what it left out. 1024 x 2304 x 768 on 64 x 64 os: 16 x 36 folds
    // of 64 + 64 + 768 - 2 cycles.
    for (gemm, array, folds) in [
        ("1024x2304x768", "64x64", 16 * 36 * (64 + 64 + 768 - 2)),
        ("64x960x128", "96x96", 10 * (96 + 96 + 128 - 2)),
    ] {
        let out = tempfile::tempdir().unwrap();
        let stdout = succeeds(
            &[
                "simulate",
                "--gemm",
                gemm,
                "--array",
                array,
                "--ideal-memory",
            ],
            out.path(),
        );
        assert!(
            stdout.starts_with("idealised: memory of unlimited bandwidth"),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!("{folds} cycles")),
            "{gemm}: {stdout}"
        );
    }
}

#[test]
fn lower_writes_a_dot_graph() {
    let out = tempfile::tempdir().unwrap();
    let dot = out.path().join("qkv.dot");
    roofsim()
        .args(["lower", "--kernel", "text/qkv_proj", "--dot"])
        .arg(&dot)
        .assert()
        .success();
    let text = std::fs::read_to_string(&dot).unwrap();
    assert!(text.starts_with("digraph kernel {"));
    assert!(text.contains("style=dashed") && text.contains("gemm"));
    assert!(!text.contains("fifo"));
    // The whole layer of the stream design: FC1's pushes wait on FC2's reads.
    roofsim()
        .args([
            "lower",
            "--kernel",
            "vision/fc2",
            "--layer",
            "--cameras",
            "1",
            "--dot",
        ])
        .arg(&dot)
        .args(["--design", "configs/designs/u280-int8-mlp-stream.toml"])
        .assert()
        .success();
    let text = std::fs::read_to_string(&dot).unwrap();
    assert!(text.contains("label=\"fifo\"") && text.contains("to stream"));
    assert!(text.contains("label=\"sync\"") && text.contains("fc1, "));
}

/// Rows of a written `probe.csv` as (memory, pattern, burst, channels) -> GB/s.
fn probe_rows(dir: &Path) -> Vec<(String, String, u64, u64, f64)> {
    let mut reader = csv::Reader::from_path(dir.join("probe.csv")).unwrap();
    reader
        .records()
        .map(|record| {
            let record = record.unwrap();
            (
                record[0].to_string(),
                record[1].to_string(),
                record[2].parse().unwrap(),
                record[5].parse().unwrap(),
                record[11].parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn probe_runs_the_standard_grid_on_the_bank_model() {
    let out = tempfile::tempdir().unwrap();
    let stdout = succeeds(&["probe", "hbm", "--memory", "dram"], out.path());
    assert_eq!(files_in(out.path()), ["probe.csv", "probe.svg"]);
    let rows = probe_rows(out.path());
    // 32 B to 512 B x sequential and strided x 1 and 32 channels, then the design's layout.
    assert_eq!(rows.len(), 21, "{stdout}");
    assert_eq!(
        (rows[20].1.as_str(), rows[20].2, rows[20].3),
        ("striped", 512, 16)
    );
    let gb = |pattern: &str, burst: u64, channels: u64| {
        rows.iter()
            .find(|r| r.1 == pattern && r.2 == burst && r.3 == channels)
            .map(|r| r.4)
            .unwrap_or_else(|| panic!("no {pattern} {burst} B x {channels} row: {stdout}"))
    };
    // Shuhai: 13.27 GB/s per channel with 512 B reads; 32 channels side by side.
    assert!(
        (gb("sequential", 512, 1) / 13.27 - 1.0).abs() < 0.05,
        "{stdout}"
    );
    assert!((gb("sequential", 512, 32) / gb("sequential", 512, 1) / 32.0 - 1.0).abs() < 0.01);
    assert!(
        gb("sequential", 32, 1) < gb("sequential", 512, 1),
        "short bursts are slower"
    );
    // 32 B at a 4 KB stride opens a row per request: far below sequential.
    assert!(
        gb("strided", 32, 1) < 0.5 * gb("sequential", 32, 1),
        "{stdout}"
    );
    assert!(
        stdout.contains("fast model re-derived from the bank model"),
        "{stdout}"
    );
    let svg = std::fs::read_to_string(out.path().join("probe.svg")).unwrap();
    assert_eq!(
        svg.matches("<polyline").count(),
        5,
        "one curve per pattern and channel count"
    );
}

#[test]
fn probe_options_pick_one_configuration_and_the_design_decides_the_model() {
    let out = tempfile::tempdir().unwrap();
    let text =
        roofsim::config::design::DEFAULT_DESIGN.replace("memory = \"hbm\"", "memory = \"dram\"");
    let (_dir, design) = write_temp("dram.toml", &text);
    succeeds(
        &[
            "probe",
            "hbm",
            "--design",
            &design,
            "--pattern",
            "random",
            "--burst-bytes",
            "64",
            "--channels",
            "4",
            "--outstanding",
            "8",
            "--write-share",
            "0.5",
        ],
        out.path(),
    );
    let rows = probe_rows(out.path());
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].0.as_str(), rows[0].1.as_str(), rows[0].2, rows[0].3),
        ("dram", "random", 64, 4)
    );
    assert!(rows[0].4 > 0.0 && rows[0].4 < 4.0 * 14.4);
}

/// The design's stripe decides how one tensor spreads: 64 KiB stripes leave one channel at a
/// time with the requester's bursts (its window full), 512 B stripes keep all 16 busy.
#[test]
fn probe_reads_the_design_layout_with_its_stripe() {
    let striped = |stripe: u64| {
        let text = roofsim::config::design::DEFAULT_DESIGN
            .replace("stripe_bytes = 512", &format!("stripe_bytes = {stripe}"));
        let (_dir, design) = write_temp("design.toml", &text);
        let out = tempfile::tempdir().unwrap();
        succeeds(
            &[
                "probe",
                "hbm",
                "--design",
                &design,
                "--memory",
                "dram",
                "--pattern",
                "striped",
                "--channels",
                "16",
                "--burst-bytes",
                "512",
            ],
            out.path(),
        );
        probe_rows(out.path())[0].4
    };
    let (fine, coarse) = (striped(512), striped(65536));
    assert!(fine > 200.0, "{fine}");
    assert!(coarse < fine / 4.0, "{coarse} vs {fine}");
}

/// The MLP-stream design streams FC1 (SLR0) into FC2 (SLR1, 20 rows of INT8): 160 super long
/// lines on SLR0-SLR1 beside the 2,610 of five engines' HBM paths. The summary says so; on a
/// platform whose boundaries had 2,700 the link is refused, named.
#[test]
fn a_link_between_slrs_takes_super_long_lines() {
    let out = tempfile::tempdir().unwrap();
    let stdout = succeeds(
        &[
            "simulate",
            "--design",
            "configs/designs/u280-int8-mlp-stream.toml",
            "--vision-layers",
            "1",
            "--text-layers",
            "1",
        ],
        out.path(),
    );
    assert!(
        stdout.contains(
            "link vision/fc1_gelu -> vision/fc2 crosses SLRs: 160 super long lines on SLR0-SLR1"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("2770 of 23040 SLLs to SLR0 (HBM paths and links)"),
        "{stdout}"
    );
    // The FIFO sits beside FC2 in SLR1: two of FC1's 64 x 256 INT8 tiles (32 KB), 160 bits wide,
    // 1,639 words deep: 8 RAMB36 for its bytes (3 would do for its width), counted in
    // SLR1's 87 + 8 blocks.
    let resources = std::fs::read_to_string(out.path().join("resources.csv")).unwrap();
    let rows: Vec<Vec<&str>> = resources.lines().map(|l| l.split(',').collect()).collect();
    let header = &rows[0];
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let link = rows.iter().find(|r| r[0] == "link").expect("a link row");
    assert_eq!(link[1], "vision/fc1_gelu -> vision/fc2 (stream at fc2)");
    assert_eq!(
        [
            link[column("slr")],
            link[column("buffer_bytes")],
            link[column("bram_blocks")]
        ],
        ["1", "32768", "8"]
    );
    assert_eq!(
        [link[column("memory")], link[column("link_slls")]],
        ["bram", "160 0"]
    );
    let slr1 = rows.iter().find(|r| r[1] == "SLR1").unwrap();
    assert_eq!(slr1[column("bram_blocks")], "95");
    // Every LUT counts in the share: 2,198 DSPs' logic (92 each) and 256 vector lanes' (226).
    assert_eq!(slr1[column("lut_share")], "0.6807");
    let platform = std::fs::read_to_string("configs/platforms/u280.toml")
        .unwrap()
        .replace("slls_per_boundary = 23040", "slls_per_boundary = 2700");
    let (_dir, path) = write_temp("platform.toml", &platform);
    rejects(
        &[
            "simulate",
            "--platform",
            &path,
            "--design",
            "configs/designs/u280-int8-mlp-stream.toml",
        ],
        &["vision/fc1_gelu -> vision/fc2", "SLR0-SLR1", "2770"],
    );
}

#[test]
fn probe_prints_idle_latencies() {
    let output = roofsim()
        .args(["probe", "hbm", "--idle-latency"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    let cycles = |name: &str| -> f64 {
        let line = stdout.lines().find(|l| l.contains(name)).unwrap();
        line.split_whitespace()
            .find_map(|w| w.parse().ok())
            .unwrap()
    };
    for (name, shuhai) in [
        ("page hit", 48.0),
        ("closed page", 55.0),
        ("page miss", 62.0),
    ] {
        assert!((cycles(name) - shuhai).abs() <= 3.0, "{name}: {stdout}");
    }
}

#[test]
fn probe_rejects_impossible_options() {
    rejects(
        &["probe", "hbm", "--burst-bytes", "1024"],
        &["--burst-bytes", "512"],
    );
    rejects(
        &["probe", "hbm", "--burst-bytes", "48"],
        &["--burst-bytes", "32-byte"],
    );
    rejects(&["probe", "hbm", "--hls"], &["--hls", "--memory dram"]);
    rejects(
        &["probe", "hbm", "--write-share", "1.5"],
        &["--write-share"],
    );
    rejects(
        &["probe", "hbm", "--switch-distance", "8"],
        &["--switch-distance"],
    );
    rejects(&["probe", "hbm", "--channels", "0"], &["--channels"]);
    rejects(
        &["probe", "hbm", "--working-set-bytes", "100"],
        &["--working-set-bytes"],
    );
    let platform = std::fs::read_to_string("configs/platforms/u280.toml").unwrap();
    let without = &platform[..platform.find("\n[hbm.dram]\n").unwrap()];
    let rest = &platform[platform.find("\n[sram]\n").unwrap()..];
    let (_dir, path) = write_temp("platform.toml", &format!("{without}{rest}"));
    rejects(
        &["probe", "hbm", "--platform", &path, "--memory", "dram"],
        &["--memory", "[hbm.dram]"],
    );
}

#[test]
fn tile_that_does_not_fit_its_buffer() {
    let text = roofsim::config::design::DEFAULT_DESIGN.replace("tk = 1024", "tk = 1048576");
    let (_dir, path) = write_temp("design.toml", &text);
    rejects(&["simulate", "--design", &path], &[&path, "buffers.memory"]);
}

/// A value or name holding a line break (an escaped `\n` in a TOML string) is printed
/// escaped, so the error stays one line (found by the fuzz in a mutated engine tiling).
#[test]
fn line_breaks_in_values_print_escaped() {
    let text = roofsim::config::design::DEFAULT_DESIGN
        .replace("dataflow = \"os\"", "dataflow = \"o\\ns\"");
    let (_dir, path) = write_temp("design.toml", &text);
    rejects(&["simulate", "--design", &path], &[&path, "o\\ns"]);
    let text = format!(
        "{}\n[[engines]]\nname = \"a\\nb\"\nkind = \"vector\"\nlanes = 4\n",
        roofsim::config::design::DEFAULT_DESIGN
    );
    let (_dir, path) = write_temp("design.toml", &text);
    rejects(
        &["simulate", "--design", &path],
        &["engines[0].name", "a\\nb"],
    );
}

#[test]
fn unknown_design_field() {
    let text = roofsim::config::design::DEFAULT_DESIGN.replace("[vector]", "[vector]\nwidth = 3");
    let (_dir, path) = write_temp("design.toml", &text);
    rejects(&["simulate", "--design", &path], &[&path, "width"]);
}

#[test]
fn fuse_overrides_the_design_for_simulate() {
    let out = tempfile::tempdir().unwrap();
    let stdout = succeeds(&["simulate", "--fuse", "attention"], out.path());
    assert!(stdout.contains("vision/attention") && !stdout.contains("vision/softmax"));
    // The design's own gemm-act and qkv fusion are replaced, not merged.
    assert!(stdout.contains("vision/q_proj") && stdout.contains("vision/fc1 "));
}

#[test]
fn standalone_siglip_and_llama_configs_run() {
    let (_vision_dir, vision) = write_temp(
        "siglip.json",
        r#"{"model_type": "siglip_vision_model", "image_size": 384, "patch_size": 16,
            "hidden_size": 1152, "intermediate_size": 4304, "num_hidden_layers": 27,
            "num_attention_heads": 16, "torch_dtype": "float32"}"#,
    );
    let out = tempfile::tempdir().unwrap();
    let stdout = succeeds(
        &["roofline", "--precision", "int8", "--model", &vision],
        out.path(),
    );
    // 384 / 16 = 24 patches a side: 576 tokens, one image without a policy.
    assert!(stdout.contains("576x1152x768"), "{stdout}");
    assert_eq!(
        files_in(out.path()),
        ["roofline.csv", "vision_roofline.svg"]
    );

    let (_text_dir, text) = write_temp(
        "llama.json",
        r#"{"model_type": "llama", "hidden_size": 2048, "intermediate_size": 8192,
            "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8}"#,
    );
    let out = tempfile::tempdir().unwrap();
    let stdout = succeeds(
        &[
            "roofline",
            "--precision",
            "fp16",
            "--language-tokens",
            "128",
            "--model",
            &text,
        ],
        out.path(),
    );
    // 128 language tokens and no state token (that is a smolVLA policy's); K/V project to
    // 8 heads of 64.
    assert!(
        stdout.contains("128 text tokens") && stdout.contains("128x512x2048"),
        "{stdout}"
    );
    // A model that reads no images speaks of no cameras.
    assert!(
        stdout.contains("policy none (bare model); batch 1; 128 text tokens = 128 language"),
        "{stdout}"
    );
    assert!(!stdout.contains("camera"), "{stdout}");
    assert_eq!(files_in(out.path()), ["roofline.csv", "text_roofline.svg"]);

    // Choices that would apply to nothing are refused, naming the option, writing nothing.
    let bert = "configs/models/bert-base-uncased.config.json";
    for (args, option) in [
        (vec!["roofline", "--cross-kv-once"], "--cross-kv-once"),
        (
            vec!["simulate", "--trim-last-text-layer"],
            "--trim-last-text-layer",
        ),
        (
            vec!["roofline", "--model", bert, "--cameras", "2"],
            "--cameras",
        ),
    ] {
        rejects(&args, &[option]);
    }
}

#[test]
fn chrome_trace_opens_as_json() {
    let out = tempfile::tempdir().unwrap();
    roofsim()
        .args(["simulate", "--trace", "--trace-format", "chrome", "--out"])
        .arg(out.path())
        .assert()
        .success();
    assert_eq!(
        files_in(out.path()),
        [
            "attribution.svg",
            "channels.csv",
            "crosscheck.svg",
            "engines.csv",
            "kernels.csv",
            "report.html",
            "resources.csv",
            "summary.json",
            "trace.json",
            "utilization.svg"
        ]
    );
    let text = std::fs::read_to_string(out.path().join("trace.json")).unwrap();
    let events: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert!(events.iter().filter(|e| e["ph"] == "X").count() > 1000);
    assert!(events.iter().any(|e| e["args"]["name"] == "array0"));
    assert!(
        events[0]["args"]["labels"]
            .as_str()
            .unwrap()
            .contains("identical layers are simulated once")
    );
    // The format forbids slices that partly overlap on one track, and Perfetto drops them:
    // replay its import rule (`ts` and `dur`, microseconds as doubles, each rounded to whole
    // nanoseconds on its own) and require every slice kept. Times written in 0.1 ns units
    // lost 342 of the default run's 8,132 slices this way.
    let nanoseconds = |value: &serde_json::Value| (value.as_f64().unwrap() * 1e3).round() as i64;
    let mut by_track: std::collections::BTreeMap<u64, Vec<(i64, i64)>> = Default::default();
    for event in events.iter().filter(|e| e["ph"] == "X") {
        let start = nanoseconds(&event["ts"]);
        let end = start + nanoseconds(&event["dur"]);
        by_track
            .entry(event["tid"].as_u64().unwrap())
            .or_default()
            .push((start, end));
    }
    for slices in by_track.values_mut() {
        slices.sort_unstable();
        for pair in slices.windows(2) {
            assert!(
                pair[1].0 >= pair[0].1,
                "Perfetto would drop one of {pair:?}"
            );
        }
    }
}

/// The smolVLA policy applies to the shipped VLM however it is named: an explicit --model of
/// the built-in file gives the same workload, and every run says which policy applied.
#[test]
fn the_policy_applies_visibly_and_none_turns_it_off() {
    let out = tempfile::tempdir().unwrap();
    let implicit = succeeds(&["roofline", "--precision", "int8"], out.path());
    let explicit = succeeds(
        &[
            "roofline",
            "--precision",
            "int8",
            "--model",
            "configs/models/smolvlm2-500m-video-instruct.config.json",
        ],
        out.path(),
    );
    assert_eq!(implicit, explicit);
    assert!(implicit.contains(
        "workload: policy built-in:smolvla_base.config.json; 3 camera(s), batch 1; 12 vision \
         layers on all cameras as one batch; 241 text tokens = 192 image (3 x 64) + 48 language + 1 state; 16 text layers"
    ));
    let bare = succeeds(
        &["roofline", "--precision", "int8", "--policy", "none"],
        out.path(),
    );
    assert!(
        bare.contains("policy none (bare model); 1 camera(s)") && bare.contains("32 text layers"),
        "{bare}"
    );
    let help = roofsim().args(["simulate", "--help"]).output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(help.contains("`none` for the") && help.contains("smolvla_base"));
}

/// `--gemm` speaks of the GEMM (not of cameras), writes the trace it was asked for, and names
/// the memory model as the design file does.
#[test]
fn a_lone_gemm_reports_the_gemm_and_its_trace() {
    let out = tempfile::tempdir().unwrap();
    let stdout = succeeds(
        &["simulate", "--gemm", "256x256x512", "--trace"],
        out.path(),
    );
    assert!(
        stdout.contains("GEMM 256x256x512 (M x N x K) at int8:") && stdout.contains("cycles"),
        "{stdout}"
    );
    assert!(!stdout.contains("camera") && !stdout.contains("observations"));
    assert!(stdout.contains("memory hbm") && !stdout.contains("Hbm"));
    // One 256x512 tile of each operand: two loads, one GEMM tile, one store.
    let trace = std::fs::read_to_string(out.path().join("trace.csv")).unwrap();
    assert_eq!(trace.lines().count(), 1 + 4, "{trace}");
    assert!(trace.contains(",array0,vision/gemm,gemm b0 m0 n0 k0,gemm,0\n"));
}

/// A design changed on the command line is validated again: a 512x512 INT8 array needs
/// 131,072 DSPs and cannot "fit" a U280.
#[test]
fn command_line_array_shapes_are_validated() {
    rejects(
        &["simulate", "--gemm", "64x64x64", "--array", "512x512"],
        &["--gemm", "arrays", "131072 DSPs"],
    );
}

/// Counts that do not fit are refused, never wrapped or allocated.
#[test]
fn out_of_range_workloads_are_refused() {
    rejects(
        &["roofline", "--language-tokens", "1000000000"],
        &["--language-tokens", "between 0 and 1048576"],
    );
    rejects(
        &["simulate", "--batch", "18446744073709551615"],
        &["--batch", "between 1 and 65536"],
    );
    // A learned position table has no row beyond its last: BERT reads 512 tokens at most,
    // GPT-2 medium 1,024 prompt and decoded tokens together.
    rejects(
        &[
            "roofline",
            "--model",
            "configs/models/bert-base-uncased.config.json",
            "--language-tokens",
            "513",
        ],
        &["--language-tokens", "table has 512 rows", "found 513"],
    );
    rejects(
        &[
            "roofline",
            "--model",
            "configs/models/gpt2-medium.config.json",
            "--language-tokens",
            "1000",
            "--decode",
            "25",
        ],
        &["--decode", "table has 1024 rows", "found 1025"],
    );
    rejects(
        &["simulate", "--gemm", "1000000x1000000x1000000"],
        &["--gemm", "above 2^56"],
    );
    rejects(
        &["simulate", "--gemm", "100000x20000x20000"],
        &["vision/gemm", "lowering would build", "tiling.tm"],
    );
    // A GEMM whose weights (10 GB at INT8) and activations (20 GB) exceed the HBM is
    // refused for that first.
    rejects(
        &["simulate", "--gemm", "100000x100000x100000"],
        &[
            "field `hbm.capacity_bytes`",
            "weights 10.00 GB at int8",
            "activations 20.00 GB",
        ],
    );
    // With ideal memory the count limit still holds (the on-chip limits do not: see
    // lone_gemm_with_ideal_memory_matches_the_fold_model).
    rejects(
        &[
            "simulate",
            "--gemm",
            "1000000x1000000x1000000",
            "--ideal-memory",
        ],
        &["--gemm", "above 2^56"],
    );
    rejects(&["simulate", "--max-events", "1000"], &["--max-events"]);
}

/// An unknown kernel gets a short error with a suggestion, naming the fusion in force.
#[test]
fn unknown_kernel_names_get_a_suggestion() {
    let out = tempfile::tempdir().unwrap();
    let dot = out.path().join("x.dot");
    let output = roofsim()
        .args(["lower", "--kernel", "vision/fc1", "--dot"])
        .arg(&dot)
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr,
        "error: --kernel: no kernel `vision/fc1` with fusion gemm-act+qkv; did you mean \
         `vision/fc1_gelu`?\n"
    );
    assert!(!dot.exists());
}

/// Numbers that once panicked, divided by zero or ran without end are refused by range.
#[test]
fn numbers_out_of_their_documented_range_are_refused() {
    let platform = roofsim::config::platform::DEFAULT_PLATFORM
        .replace("channels = 32", "channels = 9223372036854775808");
    let (_p, platform) = write_temp("p.toml", &platform);
    rejects(
        &["roofline", "--platform", &platform],
        &[&platform, "hbm.channels", "between 1 and 256"],
    );
    let design =
        roofsim::config::design::DEFAULT_DESIGN.replace("clock_mhz = 300.0", "clock_mhz = 1e-9");
    let (_d, design) = write_temp("d.toml", &design);
    rejects(
        &["simulate", "--design", &design],
        &[&design, "clock_mhz", "between 1 and 1000"],
    );
    rejects(
        &[
            "sweep",
            "--sweep",
            "configs/sweeps/vision-tiling.toml",
            "--jobs",
            "100000",
        ],
        &["--jobs", "between 1 and 256"],
    );
    rejects(
        &["simulate", "--cameras", "100000", "--batch", "100000"],
        &["--cameras", "between 1 and 1024"],
    );
}

/// `summary.json` holds what the tables print, consistently: the encoders add up to the
/// total, the total is the sum of `kernels.csv`'s cycles, and observations per second follow.
#[test]
fn summary_json_agrees_with_the_tables() {
    let out = tempfile::tempdir().unwrap();
    let stdout = succeeds(&["simulate", "--batch", "2"], out.path());
    let text = std::fs::read_to_string(out.path().join("summary.json")).unwrap();
    let summary: serde_json::Value = serde_json::from_str(&text).unwrap();
    let total = &summary["total"];
    let encoders = summary["encoders"].as_array().unwrap();
    let names: Vec<&str> = encoders
        .iter()
        .map(|e| e["encoder"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["vision", "connector", "text"]);
    let cycles: u64 = encoders.iter().map(|e| e["cycles"].as_u64().unwrap()).sum();
    assert_eq!(cycles, total["cycles"].as_u64().unwrap());
    let mut reader = csv::Reader::from_path(out.path().join("kernels.csv")).unwrap();
    let column = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "cycles")
        .unwrap();
    let csv_cycles: u64 = reader
        .records()
        .map(|r| r.unwrap()[column].parse::<u64>().unwrap())
        .sum();
    assert_eq!(csv_cycles, cycles);
    let ms = total["ms"].as_f64().unwrap();
    assert!((ms - cycles as f64 / 300e6 * 1e3).abs() < 1e-9);
    let printed = stdout
        .lines()
        .find_map(|line| line.strip_prefix("all encoders"))
        .unwrap();
    assert!(
        printed.trim_start().starts_with(&format!("{ms:.3}")),
        "{printed}"
    );
    let per_s = total["observations_per_s"].as_f64().unwrap();
    assert!((per_s - 2.0 / (ms / 1e3)).abs() < 1e-9);
    assert_eq!(summary["workload"]["batch"], 2);
    assert_eq!(summary["resources"]["dsps"], 6144);
    let attribution: u64 = total["attribution"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(attribution, cycles);

    // report.html: the summary the terminal prints, a headline with a row per SLR, one
    // table row per kernel the terminal lists, the three pictures inline, nothing fetched.
    let html = std::fs::read_to_string(out.path().join("report.html")).unwrap();
    assert!(html.contains(&format!("{ms:.3}")));
    let (headline, html) = html.split_once("<table id=\"table\"").unwrap();
    assert_eq!(headline.matches("<tr><td>SLR").count(), 3);
    let (html, other_tables) = html.split_once("</table>").unwrap();
    // The engines' table (the pool's three arrays and three vector units), the channels'.
    let engines_table = other_tables.split("</table>").next().unwrap();
    assert_eq!(engines_table.matches("<tr>").count(), 1 + 6);
    let mut kernels = csv::Reader::from_path(out.path().join("kernels.csv")).unwrap();
    let mut distinct: Vec<(String, String)> = Vec::new();
    for record in kernels.records().map(Result::unwrap) {
        let key = (record[0].to_string(), record[2].to_string());
        if !distinct.contains(&key) {
            distinct.push(key);
        }
    }
    assert_eq!(html.matches("<tr>").count(), 1 + distinct.len());
    assert_eq!(headline.matches("<svg ").count(), 3);
    assert!(!headline.contains("src=") && !headline.contains("href="));
    assert!(!html.contains("src=") && !html.contains("href="));

    // engines.csv: each array and vector unit, busy no longer than the run.
    let engines = std::fs::read_to_string(out.path().join("engines.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(engines.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let names: Vec<&str> = rows.iter().map(|r| &r[0]).collect();
    assert_eq!(
        names,
        [
            "array0", "array1", "array2", "vector0", "vector1", "vector2"
        ]
    );
    for row in &rows {
        let busy: u64 = row[3].parse().unwrap();
        let utilization: f64 = row[4].parse().unwrap();
        assert!(busy <= cycles && (utilization - busy as f64 / cycles as f64).abs() < 1e-4);
    }
}

/// Focused runs: `--kernels` simulates only the named kernels of each layer (refusing a name
/// the fusion does not have), `--vision-layers` fewer vision layers.
#[test]
fn focused_runs_simulate_only_what_they_name() {
    let out = tempfile::tempdir().unwrap();
    let stdout = succeeds(
        &[
            "simulate",
            "--kernels",
            "qkv_proj,vision/fc1_gelu",
            "--vision-layers",
            "2",
            "--text-layers",
            "3",
        ],
        out.path(),
    );
    assert!(
        stdout.contains("; 2 vision layers on all cameras as one batch;")
            && stdout.contains("only qkv_proj, vision/fc1_gelu")
    );
    let kernels = std::fs::read_to_string(out.path().join("kernels.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(kernels.as_bytes());
    let rows: Vec<(String, String)> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r[2].to_string())
        })
        .collect();
    // qkv_proj in 2 vision and 3 text layers, fc1_gelu in 2 vision layers.
    assert_eq!(rows.len(), 2 + 3 + 2, "{rows:?}");
    assert!(
        rows.iter().all(
            |(encoder, name)| name == "qkv_proj" || (encoder == "vision" && name == "fc1_gelu")
        )
    );
    rejects(
        &["simulate", "--kernels", "q_proj"],
        &[
            "--kernels",
            "no kernel `q_proj` with fusion gemm-act+qkv",
            "did you mean",
        ],
    );
    rejects(
        &["simulate", "--vision-layers", "13"],
        &["--vision-layers", "the model's 12 layers"],
    );
}

/// What does not fit the platform's HBM is refused, naming the platform's field and the
/// part to shrink: Llama-2-7B's weights at FP16 (13.5 GB) on the 8 GB U280, the default
/// model on a 1 MB HBM, a 6.4 GB key/value cache beside 4-bit weights (64 sequences of
/// 384 tokens), a 4,096-token prompt's scores at batch 8 (8.6 GB through one softmax).
#[test]
fn what_does_not_fit_the_hbm_is_refused() {
    let platform = std::fs::read_to_string("configs/platforms/u280.toml").unwrap();
    let small = platform.replacen("capacity_bytes = 8589934592", "capacity_bytes = 1048576", 1);
    assert_ne!(small, platform);
    let (_dir, small) = write_temp("small.toml", &small);
    for args in [
        vec![
            "simulate",
            "--model",
            "configs/models/llama-2-7b.config.json",
            "--design",
            "configs/designs/u280-fp16-gemv.toml",
            "--language-tokens",
            "16",
        ],
        vec!["simulate", "--platform", &small],
    ] {
        rejects(
            &args,
            &["field `hbm.capacity_bytes`", "narrower weight precision"],
        );
    }
    let llama = |tokens, batch, decode| {
        vec![
            "simulate",
            "--model",
            "configs/models/llama-2-7b.config.json",
            "--design",
            "configs/designs/u280-w4a8-gemv.toml",
            "--language-tokens",
            tokens,
            "--state-tokens",
            "0",
            "--batch",
            batch,
            "--decode",
            decode,
        ]
    };
    rejects(
        &llama("127", "64", "256"),
        &["key/value cache 6.43 GB", "use fewer tokens"],
    );
    rejects(
        &llama("4096", "8", "0"),
        &["activations 8.59 GB", "use a smaller --batch"],
    );
}

/// `--prefill token-serial` runs a decoder's text layers alone: refused for a model with a
/// vision tower (smolVLA, the default), for BERT, and for an unknown mode.
#[test]
fn token_serial_prefill_is_refused_where_it_cannot_apply() {
    rejects(
        &["simulate", "--prefill", "token-serial"],
        &[
            "--prefill",
            "token-serial takes a text model's prompt",
            "vision tower",
        ],
    );
    rejects(
        &[
            "simulate",
            "--model",
            "configs/models/bert-base-uncased.config.json",
            "--design",
            "configs/designs/u280-w4a8-bert-spatial.toml",
            "--prefill",
            "token-serial",
        ],
        &["--prefill", "BERT's attention looks both ways"],
    );
    rejects(
        &["simulate", "--prefill", "serial"],
        &["--prefill", "expected `parallel` or `token-serial`"],
    );
}

/// Inputs that would waste the machine or be ignored are refused in one line, exit 2,
/// nothing written: a config that never ends (`/dev/zero`), `--out` naming a file,
/// `--trace-format` without `--trace`.
#[test]
fn endless_files_file_outputs_and_idle_options_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-folder");
    std::fs::write(&file, "mine").unwrap();
    let file = file.to_string_lossy().into_owned();
    let out = dir.path().join("out").to_string_lossy().into_owned();
    for (args, names) in [
        (
            vec!["roofline", "--model", "/dev/zero", "--out", &out],
            "/dev/zero: field `(size)`",
        ),
        (vec!["roofline", "--out", &file], "`--out`"),
        (
            vec!["simulate", "--trace-format", "chrome", "--out", &out],
            "`--trace-format`",
        ),
    ] {
        let output = roofsim().args(&args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(names), "{stderr}");
        assert!(files_in(Path::new(&out)).is_empty());
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");
}

/// Two runs never write one folder at once: a run holds `--out` by a lock naming its
/// process; another run into it is refused while that process lives, and a lock left by a
/// killed run (a process that is gone) is taken over. The lock leaves with the run.
#[test]
fn one_run_at_a_time_writes_a_folder() {
    let out = tempfile::tempdir().unwrap();
    let lock = out.path().join(".roofsim.lock");
    std::fs::write(&lock, std::process::id().to_string()).unwrap();
    let output = roofsim()
        .args(["roofline", "--precision", "int8", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("another roofsim run"), "{stderr}");
    assert_eq!(files_in(out.path()), [".roofsim.lock"]);
    // No process has this id (Linux allows at most 2^22).
    std::fs::write(&lock, "4294967295").unwrap();
    succeeds(&["roofline", "--precision", "int8"], out.path());
    assert!(!lock.exists());
    // A run refused after it took a folder it made leaves no folder behind.
    let made = out.path().join("made");
    let output = roofsim()
        .args(["simulate", "--design"])
        .arg(write_temp("d.toml", &deadlocking_design()).1)
        .args([
            "--cameras",
            "1",
            "--vision-layers",
            "1",
            "--kernels",
            "vision/fc1_gelu,vision/fc2",
            "--out",
        ])
        .arg(&made)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("deadlock"), "{stderr}");
    assert!(!made.exists());
}

/// The MLP stream design with a FIFO too shallow for FC2's reads: refused when lowered.
fn deadlocking_design() -> String {
    std::fs::read_to_string("configs/designs/u280-int8-mlp-stream.toml")
        .unwrap()
        .replace(
            "tiling = { tm = 64, tn = 768, tk = 256",
            "tiling = { tm = 64, tn = 256, tk = 256",
        )
}

/// A text-only model's simulation counts inferences, not observations of cameras.
#[test]
fn a_text_model_runs_inferences() {
    let out = tempfile::tempdir().unwrap();
    let stdout = succeeds(
        &[
            "simulate",
            "--model",
            "configs/models/gpt2-medium.config.json",
            "--language-tokens",
            "16",
            "--text-layers",
            "1",
        ],
        out.path(),
    );
    assert!(stdout.contains(" inferences/s (batch 1); HBM"), "{stdout}");
    assert!(
        !stdout.contains("camera") && !stdout.contains("observation"),
        "{stdout}"
    );
}

/// A value a config file gave is blamed on that file and field, not on an option the user
/// never typed: a policy keeping more text layers than the model has.
#[test]
fn a_policy_beyond_its_model_names_the_policy() {
    let policy = std::fs::read_to_string("configs/models/smolvla_base.config.json").unwrap();
    let edited = policy.replace("\"num_vlm_layers\": 16", "\"num_vlm_layers\": 99");
    assert_ne!(edited, policy);
    let (_dir, path) = write_temp("policy.json", &edited);
    rejects(
        &["roofline", "--policy", &path],
        &[
            &path,
            "field `num_vlm_layers`",
            "the model's 32 text layers, found 99",
        ],
    );
}

/// The probe blames only what was given: the design's outstanding requests beyond the
/// probe's 256 name the design's field, and the default stride shrinks to a small working
/// set instead of blaming --stride-bytes, never typed.
#[test]
fn the_probe_blames_what_was_given() {
    let design = std::fs::read_to_string("configs/designs/u280-int8.toml").unwrap();
    let busy = design.replace("outstanding_requests = 32", "outstanding_requests = 512");
    assert_ne!(busy, design);
    let (_dir, path) = write_temp("busy.toml", &busy);
    rejects(
        &["probe", "hbm", "--design", &path],
        &[
            &path,
            "field `hbm.outstanding_requests`",
            "pass --outstanding N",
        ],
    );
    let out = tempfile::tempdir().unwrap();
    succeeds(
        &[
            "probe",
            "hbm",
            "--pattern",
            "strided",
            "--working-set-bytes",
            "1024",
            "--burst-bytes",
            "64",
            "--channels",
            "1",
        ],
        out.path(),
    );
    rejects(
        &[
            "probe",
            "hbm",
            "--working-set-bytes",
            "1024",
            "--stride-bytes",
            "2048",
        ],
        &["--stride-bytes", "between 1 and 1024"],
    );
}

/// Llama-2-7B decoding 8,192 tokens on one layer after a 127-token prompt.
const LLAMA_DECODE_8192: [&str; 13] = [
    "simulate",
    "--model",
    "configs/models/llama-2-7b.config.json",
    "--design",
    "configs/designs/u280-w4a8-gemv.toml",
    "--language-tokens",
    "127",
    "--state-tokens",
    "0",
    "--decode",
    "8192",
    "--text-layers",
    "1",
];

/// The largest decode the README allows (8,192 tokens × 1 layer of Llama-2-7B) ran 18
/// minutes; it is now refused before it starts, its events counted, naming what to lower.
#[test]
fn a_decode_beyond_the_event_limit_is_refused_at_once() {
    rejects(
        &LLAMA_DECODE_8192,
        &[
            "would simulate 146033021 events (limit 16777216)",
            "--decode",
        ],
    );
}

/// Runs beyond the memory budget are refused before anything is built, naming what to
/// change: a unit of overlapping kernels too large to simulate at once, a run keeping too
/// many results, a vector kernel cut into too many chunks (whose knob is its chunk, not the
/// tiles).
#[test]
fn runs_beyond_the_memory_budget_are_refused_naming_their_knob() {
    rejects(
        &[
            "simulate",
            "--design",
            "configs/designs/u280-int8-spatial.toml",
            "--pipeline",
            "full",
            "--language-tokens",
            "3000",
        ],
        &[
            "simulating the overlapping kernels from text/",
            "(budget 240 MB)",
            "overlap_layers = false",
        ],
    );
    rejects(
        &[&LLAMA_DECODE_8192[..], &["--max-events", "1000000000"]].concat(),
        &["the run would keep 2229 MB of results", "--decode"],
    );
    let design = std::fs::read_to_string("configs/designs/u280-int8.toml")
        .unwrap()
        .replace("chunk_bytes = 32768", "chunk_bytes = 1");
    assert!(design.contains("chunk_bytes = 1\n"));
    let (_dir, path) = write_temp("tiny-chunks.toml", &design);
    rejects(
        &["simulate", "--design", &path, "--batch", "64"],
        &["lowering would build", "vector.chunk_bytes"],
    );
}

/// Shipped configs by name from a folder outside the checkout: `roofsim list` names every
/// one, a design, model and sweep given by name run as their files do, and a name that ships
/// nothing is one line with the closest shipped name.
#[test]
fn shipped_configs_run_by_name_from_any_folder() {
    let elsewhere = tempfile::tempdir().unwrap();
    let listed = roofsim()
        .current_dir(elsewhere.path())
        .arg("list")
        .output()
        .unwrap();
    assert!(listed.status.success());
    let listed = String::from_utf8(listed.stdout).unwrap();
    for folder in ["designs", "models", "platforms", "sweeps"] {
        for file in std::fs::read_dir(format!("configs/{folder}")).unwrap() {
            let name = file.unwrap().file_name().to_string_lossy().into_owned();
            let stem = name.split('.').next().unwrap();
            assert!(listed.contains(&format!("  {stem} ")), "{stem} not listed");
        }
    }
    let run = |args: &[&str]| {
        let out = elsewhere.path().join("out");
        let output = roofsim()
            .current_dir(elsewhere.path())
            .args(args)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(output.status.success(), "{args:?}: {stderr}");
        std::fs::read_to_string(out.join("summary.json")).unwrap_or_default()
    };
    let focused = [
        "--cameras",
        "1",
        "--vision-layers",
        "1",
        "--text-layers",
        "1",
    ];
    let by_name = run(&[&["simulate", "--design", "u280-int4"][..], &focused].concat());
    let design = std::fs::canonicalize("configs/designs/u280-int4.toml").unwrap();
    let by_path = run(&[
        &["simulate", "--design", design.to_str().unwrap()][..],
        &focused,
    ]
    .concat());
    let total = |summary: &str| -> serde_json::Value {
        serde_json::from_str::<serde_json::Value>(summary).unwrap()["total"].clone()
    };
    assert_eq!(total(&by_name), total(&by_path));
    run(&["roofline", "--model", "llama-2-7b", "--text-layers", "1"]);
    run(&[
        "sweep",
        "--sweep",
        "vision-tiling",
        "--vision-layers",
        "1",
        "--text-layers",
        "1",
    ]);
    rejects(
        &["simulate", "--design", "u280-int5"],
        &[
            "u280-int5: no such file, nor a shipped design by that name",
            "did you mean `u280-int",
        ],
    );
}
