//! Systems of several boards through the real binary: the shipped two-board step held to the
//! single-board runs of its parts, and bad system files refused in one line.

use assert_cmd::Command;
use std::path::Path;

/// A reduced robot step that runs in seconds.
const WORKLOAD: [&str; 8] = [
    "--pipeline",
    "full",
    "--cameras",
    "1",
    "--vision-layers",
    "2",
    "--text-layers",
    "2",
];

fn roofsim(args: &[&str], out: &Path) -> std::process::Output {
    Command::cargo_bin("roofsim")
        .unwrap()
        .args(args)
        .args(WORKLOAD)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

fn csv_rows(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            header
                .iter()
                .map(String::from)
                .zip(r.iter().map(String::from))
                .collect()
        })
        .collect()
}

fn number(row: &std::collections::HashMap<String, String>, column: &str) -> f64 {
    row[column].parse().unwrap()
}

/// Each board's stage is the single-board simulation of its encoders on its design, the link
/// carries the connector's output (1 camera × 64 tokens × 960 INT8 features), the first
/// observation takes the stages plus the transfer (bytes × 8 / (100 Gb/s × 0.9) + 1 µs), and
/// the data partition's rate is the two boards' added. Catches stages simulated with the
/// wrong encoders or design, or a link charged otherwise than its bytes and latency.
#[test]
fn the_two_board_step_is_its_parts_and_its_link() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pipeline");
    let output = roofsim(&["system", "--system", "smolvla-2x-u280"], &out);
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    let boards = csv_rows(&out.join("boards.csv"));
    let links = csv_rows(&out.join("links.csv"));
    let bytes = number(&links[0], "bytes_per_observation");
    assert_eq!(bytes, 64.0 * 960.0);
    // The report: the timeline with a bar per board, port and observation (8 each), and a
    // table row per board and link.
    let timeline = std::fs::read_to_string(out.join("timeline.svg")).unwrap();
    assert_eq!(timeline.matches("<title>").count(), 3 * 8);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("port vision -&gt; language"));
    assert_eq!(html.matches("<tr>").count(), (1 + 2) + (1 + 1));
    for (board, kernels) in [
        (&boards[0], "vision/,connector/"),
        (&boards[1], "text/,expert/"),
    ] {
        // The same encoders alone on one board.
        let alone = dir.path().join(&board["board"]);
        let prefixes: Vec<&str> = kernels.split(',').collect();
        let summary = roofsim(&["simulate", "--design", "u280-int8-searched"], &alone);
        assert!(summary.status.success());
        let kernels_csv = csv_rows(&alone.join("kernels.csv"));
        let names: Vec<String> = kernels_csv
            .iter()
            .map(|k| format!("{}/{}", k["encoder"], k["kernel"]))
            .filter(|name| prefixes.iter().any(|p| name.starts_with(p)))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let part = dir.path().join(format!("{}-part", board["board"]));
        let output = roofsim(
            &[
                "simulate",
                "--design",
                "u280-int8-searched",
                "--kernels",
                &names.join(","),
            ],
            &part,
        );
        assert!(output.status.success(), "{output:?}");
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(part.join("summary.json")).unwrap())
                .unwrap();
        let alone_ms = summary["total"]["ms"].as_f64().unwrap();
        assert!(
            (number(board, "stage_ms") - alone_ms).abs() < 1e-3,
            "{}: {} against {alone_ms}",
            board["board"],
            board["stage_ms"]
        );
    }
    let transfer_ms = bytes * 8.0 / 90e9 * 1e3 + 1e-3;
    let first_ms = number(&boards[0], "stage_ms") + transfer_ms + number(&boards[1], "stage_ms");
    assert!(
        text.contains(&format!("first observation in {first_ms:.3} ms")),
        "{text}"
    );
    let data = dir.path().join("data");
    let output = roofsim(&["system", "--system", "smolvla-2x-u280-data"], &data);
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    let boards = csv_rows(&data.join("boards.csv"));
    let rate: f64 = boards.iter().map(|b| 1e3 / number(b, "stage_ms")).sum();
    assert!(
        text.contains(&format!("then {rate:.2} observations/s")),
        "{text}"
    );
    assert!(!data.join("links.csv").exists());
}

/// Bad system files: one line naming the file and the field, exit code 2, nothing written.
#[test]
fn bad_systems_are_refused_in_one_line() {
    let shipped = include_str!("../../configs/systems/smolvla-2x-u280.toml");
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            shipped.replacen("design = \"u280-int8-searched\"\n", "", 1),
            "missing field `design`",
        ),
        (
            shipped.replace("to = \"language\"", "to = \"langauge\""),
            "links[0].to`: no board `langauge`; did you mean `language`?",
        ),
        (
            shipped.replace("encoders = [\"text\", \"expert\"]", "encoders = [\"text\"]"),
            "field `boards`: no board runs `expert`",
        ),
        (
            shipped
                .replace("[\"vision\", \"connector\"]", "[\"VISION\"]")
                .replace("[\"text\", \"expert\"]", "[\"vision\", \"connector\"]")
                .replace("[\"VISION\"]", "[\"text\", \"expert\"]"),
            "boards[0].encoders`: `text` comes after kernels of a later board (`language`)",
        ),
        (
            shipped.replace("latency_us = 1.0", "latency_us = -1.0"),
            "links[0].latency_us`: must be in [0, 1e6]",
        ),
        (shipped.replace("[[links]]", "[[linkz]]"), "linkz"),
        (
            shipped.replace("design = \"u280-int8-searched\"", "design = \"u280-int9\""),
            "u280-int9",
        ),
    ];
    for (index, (text, needle)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("system{index}.toml"));
        std::fs::write(&path, text).unwrap();
        let out = dir.path().join(format!("out{index}"));
        let output = roofsim(&["system", "--system", path.to_str().unwrap()], &out);
        assert_eq!(output.status.code(), Some(2), "{needle}: {output:?}");
        let error = String::from_utf8(output.stderr).unwrap();
        assert!(error.contains(needle), "{needle}: {error}");
        assert_eq!(error.trim().lines().count(), 1, "{error}");
        assert!(!out.join("boards.csv").exists());
    }
}

/// Extreme numbers in every numeric field of a system file are run or refused in one line,
/// never a panic or a hang (an infinitely fast link runs; a zero-rate one is refused).
#[test]
fn extreme_numbers_in_a_system_file_run_or_are_refused() {
    let shipped = include_str!("../../configs/systems/smolvla-2x-u280.toml");
    let dir = tempfile::tempdir().unwrap();
    let fields = [
        "gbit_per_s = 100.0",
        "payload_share = 0.9",
        "latency_us = 1.0",
        "observations = 8",
    ];
    let values = [
        "0",
        "-1",
        "1e-9",
        "1e308",
        "inf",
        "nan",
        "18446744073709551615",
        "3",
    ];
    let mut ran = 0;
    for field in fields {
        let key = field.split(" = ").next().unwrap();
        for value in values {
            let path = dir.path().join("system.toml");
            std::fs::write(&path, shipped.replace(field, &format!("{key} = {value}"))).unwrap();
            let out = dir.path().join("out");
            let output = roofsim(&["system", "--system", path.to_str().unwrap()], &out);
            let error = String::from_utf8(output.stderr.clone()).unwrap();
            match output.status.code() {
                Some(0) => ran += 1,
                Some(2) => assert_eq!(error.trim().lines().count(), 1, "{key} = {value}: {error}"),
                other => panic!("{key} = {value}: exit {other:?}: {error}"),
            }
        }
    }
    // At least the sensible values ran (inf rate, 3 observations, 1e-9 latency...).
    assert!(ran >= 6, "{ran}");
}

/// A tensor partition: one board is the single-board run; four boards of GPT-2 medium decode
/// each take a quarter of the heads and MLP width, are faster than one, and pay the ring's
/// all-reduces; what cannot be split is refused in one line.
#[test]
fn a_tensor_partition_splits_the_layers_and_pays_its_all_reduces() {
    let dir = tempfile::tempdir().unwrap();
    let gpt2 = [
        "--model",
        "gpt2-medium",
        "--decode",
        "4",
        "--text-layers",
        "4",
    ];
    let run = |system: &Path, out: &Path| {
        Command::cargo_bin("roofsim")
            .unwrap()
            .args(["system", "--system"])
            .arg(system)
            .args(gpt2)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap()
    };
    let shipped = include_str!("../../configs/systems/dfx-gpt2-4x-u280.toml");
    let one_board = shipped[..shipped.find("[[boards]]\nname = \"fpga1\"").unwrap()].to_string();
    let one_path = dir.path().join("one.toml");
    std::fs::write(&one_path, &one_board).unwrap();
    let one = dir.path().join("one");
    let output = run(&one_path, &one);
    assert!(output.status.success(), "{output:?}");
    let alone = dir.path().join("alone");
    let output = Command::cargo_bin("roofsim")
        .unwrap()
        .args(["simulate", "--design", "u280-fp16-gemv"])
        .args(gpt2)
        .arg("--out")
        .arg(&alone)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(alone.join("summary.json")).unwrap())
            .unwrap();
    let one_ms = number(&csv_rows(&one.join("boards.csv"))[0], "stage_ms");
    assert!((one_ms - summary["total"]["ms"].as_f64().unwrap()).abs() < 1e-3);
    let four = dir.path().join("four");
    let output = run(Path::new("dfx-gpt2-4x-u280"), &four);
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    let boards = csv_rows(&four.join("boards.csv"));
    assert_eq!(boards.len(), 4);
    let stage = number(&boards[0], "stage_ms");
    assert!(stage < one_ms / 2.0, "{stage} against {one_ms}");
    // Each board sends 2 (K - 1) = 6 quarters of every all-reduce: 2 per layer of 4 layers,
    // over the 48 prompt rows and then 4 generated tokens' single rows, 1,024 FP16 features.
    let links = csv_rows(&four.join("links.csv"));
    let per_row = 6 * (1024 * 2 / 4);
    assert_eq!(
        number(&links[0], "bytes_per_observation"),
        (2 * 4 * (48 + 4) * per_row) as f64
    );
    assert!(text.contains("ms are ring all-reduces"), "{text}");
    // The action expert is not split; more boards than key/value heads cannot share them.
    let full = Command::cargo_bin("roofsim")
        .unwrap()
        .args([
            "system",
            "--system",
            one_path.to_str().unwrap(),
            "--pipeline",
            "full",
        ])
        .arg("--out")
        .arg(dir.path().join("full"))
        .output()
        .unwrap();
    assert_eq!(full.status.code(), Some(2));
    let error = String::from_utf8(full.stderr).unwrap();
    assert!(
        error.contains("field `partition`: a tensor split of the action expert"),
        "{error}"
    );
}

/// `--boards` runs a data or tensor partition at each board count (its first board
/// repeated): a data partition's rate grows with the boards at the same latency; a
/// pipeline, whose boards differ, is refused in one line.
#[test]
fn board_counts_give_the_scaling_curve() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("data");
    let output = roofsim(
        &[
            "system",
            "--system",
            "smolvla-2x-u280-data",
            "--boards",
            "1,2,4",
        ],
        &out,
    );
    assert!(output.status.success(), "{output:?}");
    let rows = csv_rows(&out.join("scaling.csv"));
    let rate = |row: usize| number(&rows[row], "rate_speedup");
    assert_eq!((rate(0), rate(1), rate(2)), (1.0, 2.0, 4.0));
    assert!(rows.iter().all(|r| number(r, "speedup") == 1.0));
    let output = roofsim(
        &["system", "--system", "smolvla-2x-u280", "--boards", "2"],
        &dir.path().join("pipeline"),
    );
    assert_eq!(output.status.code(), Some(2));
    let error = String::from_utf8(output.stderr).unwrap();
    assert!(
        error.contains("`--boards`: a pipeline's boards run different encoders"),
        "{error}"
    );
}

/// An encoder split by layers over two boards: the first board runs vision layer 0 (and
/// the patch embedding before it), the second layer 1 onwards; what crosses is layer 0's
/// output, 1 camera × 1,024 patches × 768 INT8 features (read by layer 1's norm and its
/// residual, sent once), and the stages add up to the single board's step. Overlapping
/// ranges and uncovered layers are refused in one line.
#[test]
fn an_encoder_split_by_layers_hands_over_one_layer_output() {
    let shipped = include_str!("../../configs/systems/smolvla-2x-u280.toml");
    let split = shipped
        .replace(
            "encoders = [\"vision\", \"connector\"]",
            "encoders = [\"vision\"]\nlayers = { vision = [0, 1] }",
        )
        .replace(
            "encoders = [\"text\", \"expert\"]",
            "encoders = [\"vision\", \"connector\", \"text\", \"expert\"]\n\
             layers = { vision = [1, 2] }",
        );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("split.toml");
    std::fs::write(&path, &split).unwrap();
    let out = dir.path().join("out");
    let output = roofsim(&["system", "--system", path.to_str().unwrap()], &out);
    assert!(output.status.success(), "{output:?}");
    let links = csv_rows(&out.join("links.csv"));
    assert_eq!(number(&links[0], "bytes_per_observation"), 1024.0 * 768.0);
    let boards = csv_rows(&out.join("boards.csv"));
    let alone = dir.path().join("alone");
    let output = roofsim(&["simulate", "--design", "u280-int8-searched"], &alone);
    assert!(output.status.success());
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(alone.join("summary.json")).unwrap())
            .unwrap();
    let sum = number(&boards[0], "stage_ms") + number(&boards[1], "stage_ms");
    let whole = summary["total"]["ms"].as_f64().unwrap();
    // Layers run one after another on this design's units: the parts add up, within the
    // rounding of the two stages.
    assert!((sum - whole).abs() < 1e-3, "{sum} against {whole}");
    for (text, needle) in [
        (
            split.replace("vision = [1, 2]", "vision = [0, 2]"),
            "several boards run `vision`: their `layers` overlap",
        ),
        (
            split.replace("vision = [1, 2]", "vision = [2, 3]"),
            "no board runs `vision` layer 1",
        ),
    ] {
        std::fs::write(&path, text).unwrap();
        let output = roofsim(&["system", "--system", path.to_str().unwrap()], &out);
        assert_eq!(output.status.code(), Some(2));
        let error = String::from_utf8(output.stderr).unwrap();
        assert!(error.contains(needle), "{needle}: {error}");
    }
}

/// A model too large for one board's HBM is refused naming the board (Llama-2-7B at FP16:
/// 13.5 GB of weights against the U280's 8 GB), and runs split over four (3.4 GB each).
#[test]
fn a_model_too_large_for_one_board_runs_on_four() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = include_str!("../../configs/systems/dfx-gpt2-4x-u280.toml");
    let one_path = dir.path().join("one.toml");
    std::fs::write(
        &one_path,
        &shipped[..shipped.find("[[boards]]\nname = \"fpga1\"").unwrap()],
    )
    .unwrap();
    let run = |system: &str, out: &str| {
        Command::cargo_bin("roofsim")
            .unwrap()
            .args([
                "system",
                "--system",
                system,
                "--model",
                "llama-2-7b",
                "--decode",
                "1",
            ])
            .arg("--out")
            .arg(dir.path().join(out))
            .output()
            .unwrap()
    };
    let output = run(one_path.to_str().unwrap(), "one");
    assert_eq!(output.status.code(), Some(2));
    let error = String::from_utf8(output.stderr).unwrap();
    assert!(
        error.contains("field `boards.fpga0`") && error.contains("hbm.capacity_bytes"),
        "{error}"
    );
    assert_eq!(error.trim().lines().count(), 1);
    let output = run("dfx-gpt2-4x-u280", "four");
    assert!(output.status.success(), "{output:?}");
}

/// The guide's two-board figures for the whole robot step are the tool's: each shipped
/// smolVLA system run as the guide says, its rate and first observation's time as the
/// guide's table states them.
#[test]
fn the_guides_two_board_figures_are_the_tools() {
    let guide =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/src/system.md"))
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    for system in [
        "smolvla-2x-u280",
        "smolvla-2x-u280-balanced",
        "smolvla-2x-u280-data",
    ] {
        let output = Command::cargo_bin("roofsim")
            .unwrap()
            .args(["system", "--system", system, "--pipeline", "full", "--out"])
            .arg(dir.path().join(system))
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        let text = String::from_utf8(output.stdout).unwrap();
        let figure = |before: &str, after: &str| -> f64 {
            let at = text.find(before).unwrap() + before.len();
            text[at..]
                .split(after)
                .next()
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        };
        let first_ms = figure("first observation in", " ms");
        let rate = figure("; then", " observations/s");
        let row = format!("{first_ms:.2} ms, {rate:.2}/s");
        assert!(guide.contains(&row), "{system}: the guide lacks `{row}`");
    }
}

/// The action expert on a board of its own reads the text layers' key/value cache across
/// the link: 16 layers × 241 prefix tokens × (5 key/value heads × 64) × K and V, 1 byte each
/// at INT8 (not the text layers' last output, which the expert never reads). A board that
/// generates tokens apart from the text layers is refused: their cache grows where they run.
#[test]
fn an_expert_board_receives_the_prefix_cache() {
    let shipped = include_str!("../../configs/systems/smolvla-2x-u280.toml");
    let split = shipped
        .replace(
            "encoders = [\"vision\", \"connector\"]",
            "encoders = [\"vision\", \"connector\", \"text\"]",
        )
        .replace(
            "encoders = [\"text\", \"expert\"]",
            "encoders = [\"expert\"]",
        );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("expert.toml");
    std::fs::write(&path, &split).unwrap();
    let out = dir.path().join("out");
    let output = Command::cargo_bin("roofsim")
        .unwrap()
        .args([
            "system",
            "--system",
            path.to_str().unwrap(),
            "--pipeline",
            "full",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let links = csv_rows(&out.join("links.csv"));
    assert_eq!(
        number(&links[0], "bytes_per_observation"),
        (16 * 241 * 320 * 2) as f64
    );
    let decode = shipped
        .replace(
            "encoders = [\"vision\", \"connector\"]",
            "encoders = [\"text\"]",
        )
        .replace(
            "encoders = [\"text\", \"expert\"]",
            "encoders = [\"decode\"]",
        );
    std::fs::write(&path, decode).unwrap();
    let output = Command::cargo_bin("roofsim")
        .unwrap()
        .args(["system", "--system", path.to_str().unwrap()])
        .args(["--model", "gpt2-medium", "--decode", "2", "--out"])
        .arg(dir.path().join("decode"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let error = String::from_utf8(output.stderr).unwrap();
    assert!(
        error.contains("keep `text` and `decode` on one board"),
        "{error}"
    );
}
