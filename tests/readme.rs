//! The README's figures are the tool's: each quoted table row is run again and compared
//! digit for digit, so the manual cannot drift from what the commands print.

use roofsim::cli::{Cli, run};
use std::path::Path;

const README: &str = include_str!("../README.md");

/// The rows of the README table whose header line starts with `header`, as cells.
fn table(header: &str) -> Vec<Vec<String>> {
    let mut lines = README.lines().skip_while(|line| !line.starts_with(header));
    assert!(
        lines.next().is_some(),
        "no table headed {header:?} in the README"
    );
    lines
        .skip(1)
        .take_while(|line| line.starts_with('|'))
        .map(|line| {
            line.trim_matches('|')
                .split('|')
                .map(|cell| cell.trim().to_string())
                .collect()
        })
        .collect()
}

/// `summary.json` of `roofsim simulate ARGS` written into `out`.
fn simulate(args: &[&str], out: &Path) -> serde_json::Value {
    let mut all: Vec<String> = ["simulate", "--out"].map(String::from).to_vec();
    all.push(out.display().to_string());
    all.extend(args.iter().map(|arg| arg.to_string()));
    let cli = Cli::try_from_args(all).unwrap();
    run(&cli.command).unwrap_or_else(|error| panic!("{args:?}: {error}"));
    let text = std::fs::read_to_string(out.join("summary.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The robot-step table: every design's encoders, expert, step, control rates, and the
/// step with both switches, at the README's decimals.
#[test]
fn the_robot_step_table_is_what_the_designs_simulate() {
    let rows = table("| design | encoders ms | expert ms (per flow step)");
    assert_eq!(rows.len(), 5);
    let dir = tempfile::tempdir().unwrap();
    let overlapped = dir.path().join("overlapped.toml");
    let default = std::fs::read_to_string("configs/designs/u280-int8.toml").unwrap();
    std::fs::write(
        &overlapped,
        format!("{default}\n[schedule]\noverlap_kernels = true\n"),
    )
    .unwrap();
    for row in rows {
        let design = match row[0].as_str() {
            "`u280-int8` + `overlap_kernels`" => overlapped.display().to_string(),
            name => format!("configs/designs/{}.toml", name.trim_matches('`')),
        };
        let step = |switches: &[&str], out: &str| {
            let mut args = vec!["--design", design.as_str(), "--pipeline", "full"];
            args.extend(switches);
            simulate(&args, &dir.path().join(out))["robot_step"].clone()
        };
        let plain = step(&[], "plain");
        let ms = |value: &serde_json::Value, decimals: usize| {
            format!("{:.*}", decimals, value.as_f64().unwrap())
        };
        let measured = [
            ms(&plain["encoders_ms"], 2),
            format!(
                "{} ({})",
                ms(&plain["expert_ms"], 2),
                ms(&plain["expert_ms_per_flow_step"], 2)
            ),
            ms(&plain["latency_ms"], 2),
            ms(&plain["chunks_per_s"], 2),
            ms(&plain["actions_per_s"], 1),
        ];
        assert_eq!(row[1..6], measured, "{}", row[0]);
        if row[6] != "–" {
            let both = step(&["--cross-kv-once", "--trim-last-text-layer"], "both");
            assert_eq!(
                row[6],
                ms(&both["latency_ms"], 2),
                "{} with both switches",
                row[0]
            );
        }
    }
}

/// The BERT-base spatial design's prediction and its pipeline model at 512 tokens.
#[test]
fn the_bert_design_predicts_what_the_readme_says() {
    let dir = tempfile::tempdir().unwrap();
    let summary = simulate(
        &[
            "--model",
            "configs/models/bert-base-uncased.config.json",
            "--design",
            "configs/designs/u280-w4a8-bert-spatial.toml",
            "--language-tokens",
            "512",
        ],
        dir.path(),
    );
    let text = &summary["encoders"][0];
    let clock_hz = 245e6;
    let paragraph = "A systolic or dot engine may build its multipliers from LUTs";
    let predicted = text["ms"].as_f64().unwrap();
    assert_eq!(
        quoted_in(paragraph, "roofsim predicts "),
        round(predicted, 1)
    );
    let model_ms = text["pipeline_model_cycles"].as_f64().unwrap() / clock_hz * 1e3;
    assert_eq!(
        quoted_in(paragraph, "against its pipeline model's "),
        round(model_ms, 1)
    );
}

/// `value` at `decimals` decimals, as the README prints it.
fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

/// The README paragraph that starts with `start`, and where `label` stands in it.
fn paragraph_at<'a>(start: &str, label: &str) -> (&'a str, usize) {
    let from = README
        .find(start)
        .unwrap_or_else(|| panic!("the README no longer says {start:?}"));
    let text = &README[from..];
    let text = &text[..text.find("\n\n").unwrap_or(text.len())];
    let at = text
        .find(label)
        .unwrap_or_else(|| panic!("{start:?} no longer says {label:?}"));
    (text, at)
}

fn is_numeric(c: &char) -> bool {
    c.is_ascii_digit() || *c == '.'
}

/// The number right after `label` in the README paragraph that starts with `start`.
fn quoted_in(start: &str, label: &str) -> f64 {
    let (text, at) = paragraph_at(start, label);
    let number: String = text[at + label.len()..]
        .chars()
        .take_while(is_numeric)
        .collect();
    number.parse().unwrap()
}

/// The number right before `label` in the README paragraph that starts with `start`.
fn quoted_before(start: &str, label: &str) -> f64 {
    let (text, at) = paragraph_at(start, label);
    let reversed: String = text[..at].chars().rev().take_while(is_numeric).collect();
    reversed.chars().rev().collect::<String>().parse().unwrap()
}

/// The default run's figures in the example section: per-camera vision and connector, text,
/// the observation, its rate, and the bank-level HBM's observation.
#[test]
fn the_default_runs_figures_are_the_tools() {
    let paragraph = "Simulated on the built-in design";
    let dir = tempfile::tempdir().unwrap();
    let summary = simulate(&[], &dir.path().join("fast"));
    let encoder = |summary: &serde_json::Value, name: &str, field: &str| {
        let encoders = summary["encoders"].as_array().unwrap();
        let found = encoders.iter().find(|e| e["encoder"] == name).unwrap();
        found[field].as_f64().unwrap()
    };
    let checks = [
        ("vision ", encoder(&summary, "vision", "ms_per_camera"), 1),
        (
            "connector ",
            encoder(&summary, "connector", "ms_per_camera"),
            2,
        ),
        ("text ", encoder(&summary, "text", "ms"), 1),
        (
            "per observation of 3 cameras (",
            summary["total"]["observations_per_s"].as_f64().unwrap(),
            1,
        ),
    ];
    for (label, measured, decimals) in checks {
        assert_eq!(
            quoted_in(paragraph, label),
            round(measured, decimals),
            "{label}"
        );
    }
    let observation = summary["total"]["ms"].as_f64().unwrap();
    assert_eq!(
        quoted_before(paragraph, " ms\nper observation"),
        round(observation, 1)
    );
    let design = std::fs::read_to_string("configs/designs/u280-int8.toml").unwrap();
    let bank = design.replacen("memory = \"hbm\"", "memory = \"dram\"", 1);
    assert_ne!(bank, design);
    let path = dir.path().join("bank.toml");
    std::fs::write(&path, bank).unwrap();
    let summary = simulate(
        &["--design", path.to_str().unwrap()],
        &dir.path().join("bank"),
    );
    let measured = summary["total"]["ms"].as_f64().unwrap();
    assert_eq!(
        quoted_in(paragraph, "on the bank-level HBM "),
        round(measured, 1)
    );
}
