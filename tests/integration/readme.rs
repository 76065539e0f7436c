//! The README's and the user guide's figures are the tool's: each quoted table row is run
//! again and compared digit for digit, so the manual cannot drift from what the commands
//! print; the README's tour runs line by line; every link of the manual resolves.

use roofsim::cli::{Cli, run};
use std::path::Path;

/// The README and the user guide's chapters (`docs/src`), as one text: a quoted figure is
/// found wherever it moved.
const README: &str = concat!(
    include_str!("../../README.md"),
    include_str!("../../docs/src/introduction.md"),
    include_str!("../../docs/src/commands.md"),
    include_str!("../../docs/src/simulate.md"),
    include_str!("../../docs/src/models.md"),
    include_str!("../../docs/src/dataflow.md"),
    include_str!("../../docs/src/sweep.md"),
    include_str!("../../docs/src/robot-step.md"),
    include_str!("../../docs/src/decode.md"),
    include_str!("../../docs/src/counting.md"),
    include_str!("../../docs/src/python.md"),
    include_str!("../../docs/src/development.md"),
);

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

/// What `roofsim ARGS --out OUT` prints, its files written into `out`.
fn job(args: &[&str], out: &Path) -> String {
    let mut all: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
    all.extend(["--out".to_string(), out.display().to_string()]);
    let cli = Cli::try_from_args(all).unwrap();
    run(&cli.command)
        .unwrap_or_else(|error| panic!("{args:?}: {error}"))
        .text
}

/// `summary.json` of `roofsim simulate ARGS` written into `out`.
fn simulate(args: &[&str], out: &Path) -> serde_json::Value {
    job(&[&["simulate"][..], args].concat(), out);
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
    let mut shares: Vec<f64> = Vec::new();
    let mut expert: Vec<(String, f64, (f64, f64))> = Vec::new();
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
        let value = |field: &str| plain[field].as_f64().unwrap();
        shares.push(value("encoders_ms") / value("latency_ms") * 100.0);
        expert.push((
            row[0].clone(),
            value("expert_ms"),
            expert_gemm_efficiency(&dir.path().join("plain/kernels.csv")),
        ));
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
    // The paragraph after the table: the encoders' share of the step, the expert's flow
    // step at INT8 and INT4, and its GEMMs' efficiency against the roof.
    let text = paragraph_text("The encoders bound the step", "%");
    let (low, high) = shares
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, h), &s| (l.min(s), h.max(s)));
    let of = |name: &str| expert.iter().find(|(row, ..)| row == name).unwrap();
    let (int8, int4) = (of("`u280-int8`"), of("`u280-int4`"));
    let range = |(low, high): (f64, f64)| format!("{:.0}–{:.0} %", low * 100.0, high * 100.0);
    for quoted in [
        format!("on every design ({:.0}–{:.0} %)", low, high),
        format!("({:.1} → {:.1} ms)", int8.1, int4.1),
        format!(
            "falls from {} at INT8 to {} at INT4",
            range(int8.2),
            range(int4.2)
        ),
    ] {
        assert_says(&text, &quoted);
    }
}

/// The lowest and highest efficiency in a `kernels.csv` of the action expert's projections
/// and MLP: its GEMMs of M = 50 with N and K of 720 or more (not attention's, nor the
/// action in and out projections of 32 columns).
fn expert_gemm_efficiency(path: &Path) -> (f64, f64) {
    let mut kernels = csv::Reader::from_path(path).unwrap();
    let headers = kernels.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (encoder, op, efficiency) = (column("encoder"), column("op"), column("efficiency"));
    let [m, n, k] = ["m", "n", "k"].map(column);
    let number = |row: &csv::StringRecord, at: usize| row[at].parse::<u64>().unwrap();
    kernels
        .records()
        .map(Result::unwrap)
        .filter(|row| &row[encoder] == "expert" && &row[op] == "gemm")
        .filter(|row| number(row, m) == 50 && number(row, n) >= 720 && number(row, k) >= 720)
        .map(|row| row[efficiency].parse::<f64>().unwrap())
        .fold((f64::MAX, f64::MIN), |(l, h), e| (l.min(e), h.max(e)))
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
    // Its bill: DSPs, LUT multipliers and all LUTs (thousands), the expected clock and its
    // range, the power range.
    let resources = &summary["resources"];
    let slrs = resources["slrs"].as_array().unwrap();
    let sum = |field: &str| -> u64 { slrs.iter().map(|s| s[field].as_u64().unwrap()).sum() };
    let multipliers = sum("luts");
    let all_luts = multipliers + sum("logic_luts") + sum("memory_luts");
    let dsps = resources["dsps"].as_u64().unwrap();
    let clock = &resources["clock"];
    let range = clock["range_mhz"].as_array().unwrap();
    let power = &summary["power"];
    let text = paragraph_text(paragraph, "roofsim predicts");
    for quoted in [
        format!("{},{:03} DSPs (published", dsps / 1000, dsps % 1000),
        format!(
            "{} k LUTs in multipliers",
            (multipliers as f64 / 1e3).round()
        ),
        format!(
            "{} k with the engines' logic",
            (all_luts as f64 / 1e3).round()
        ),
        format!(
            "expected clock of {} MHz ({}–{};",
            clock["expected_mhz"].as_f64().unwrap(),
            range[0].as_f64().unwrap(),
            range[1].as_f64().unwrap()
        ),
        format!(
            "{:.1}–{:.1} W",
            power["power_w_min"].as_f64().unwrap(),
            power["power_w_max"].as_f64().unwrap()
        ),
    ] {
        assert_says(&text, &quoted);
    }
}

/// The README paragraph that starts with `start` (see [`paragraph_at`]), its line breaks
/// read as spaces.
fn paragraph_text(start: &str, label: &str) -> String {
    paragraph_at(start, label).0.replace('\n', " ")
}

/// Asserts that `text`, a README paragraph, says `quoted`.
fn assert_says(text: &str, quoted: &str) {
    assert!(
        text.contains(quoted),
        "the README no longer says {quoted:?}"
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
    // The efficiency ranges: GEMMs but the attention scores, the scores, vector kernels.
    let mut kernels = csv::Reader::from_path(dir.path().join("fast/kernels.csv")).unwrap();
    let headers = kernels.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (op, kernel, efficiency) = (column("op"), column("kernel"), column("efficiency"));
    let mut ranges = [(f64::MAX, f64::MIN); 3];
    for row in kernels.records().map(Result::unwrap) {
        let class = match (&row[op], &row[kernel]) {
            ("gemm", "scores") => 1,
            ("gemm", _) => 0,
            _ => 2,
        };
        let percent: f64 = row[efficiency].parse::<f64>().unwrap() * 100.0;
        ranges[class] = (ranges[class].0.min(percent), ranges[class].1.max(percent));
    }
    let text = paragraph_text(paragraph, "of their roof");
    for (label, (low, high)) in [
        ("GEMMs reach ", ranges[0]),
        ("; ", ranges[1]),
        ("vector kernels reach ", ranges[2]),
    ] {
        let quoted = format!("{label}{:.0}–{:.0} %", low, high);
        assert_says(&text, &quoted);
    }
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
    // The default design's clock: its 2,048-DSP arrays flagged, the expected clock and range.
    let clock = &summary["resources"]["clock"];
    let range = clock["range_mhz"].as_array().unwrap();
    let text = paragraph_text("**Engine size**", "flagged");
    assert_says(
        &text,
        &format!(
            "2,048-DSP arrays are flagged: {} MHz expected, {}–{} MHz",
            clock["expected_mhz"].as_f64().unwrap(),
            range[0].as_f64().unwrap(),
            range[1].as_f64().unwrap()
        ),
    );
    // Kernel by kernel, the bank model against the fast one: vector kernels' and GEMMs'
    // extra cycles.
    let cycles = |folder: &str| -> Vec<(String, f64)> {
        let path = dir.path().join(folder).join("kernels.csv");
        let mut kernels = csv::Reader::from_path(path).unwrap();
        let headers = kernels.headers().unwrap().clone();
        let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
        let (op, cycles) = (column("op"), column("cycles"));
        kernels
            .records()
            .map(Result::unwrap)
            .map(|row| (row[op].to_string(), row[cycles].parse().unwrap()))
            .collect()
    };
    let (mut vector, mut gemm) = ((f64::MAX, f64::MIN), 0f64);
    for ((op, fast), (_, bank)) in cycles("fast").into_iter().zip(cycles("bank")) {
        let slower = (bank / fast - 1.0) * 100.0;
        if op == "gemm" {
            gemm = gemm.max(slower.abs());
        } else {
            vector = (vector.0.min(slower), vector.1.max(slower));
        }
    }
    let text = paragraph_text("**The bank-level HBM", "slower on the bank");
    assert_says(
        &text,
        &format!(
            "come out {}–{:.0} % slower on the bank",
            format!("{:.0}", vector.0).replace('-', "−"),
            vector.1
        ),
    );
    assert_says(&text, &format!("compute-bound GEMMs within {gemm:.1} %"));
}

/// The mean decoded token's milliseconds of `model` on the design file `design` changed by
/// `edits`, after the README's prefix ([`decode_run`]).
fn decode_ms(model: &str, design: &str, edits: &[(&str, &str)], tokens: &str) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let summary = decode_run(model, design, edits, tokens, dir.path());
    summary["decode"]["mean_token_ms"].as_f64().unwrap()
}

/// `summary.json` of `model` decoding `tokens` tokens after the README's 127-token prefix,
/// on the design file `design` changed by `edits` (each `(from, to)` replaced everywhere, and
/// present); the run's files in `dir/out`.
fn decode_run(
    model: &str,
    design: &str,
    edits: &[(&str, &str)],
    tokens: &str,
    dir: &Path,
) -> serde_json::Value {
    let mut text = std::fs::read_to_string(design).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "{design} has no {from:?}");
        text = text.replace(from, to);
    }
    let path = dir.join("design.toml");
    std::fs::write(&path, text).unwrap();
    simulate(
        &[
            "--model",
            model,
            "--design",
            path.to_str().unwrap(),
            "--language-tokens",
            "127",
            "--state-tokens",
            "0",
            "--decode",
            tokens,
        ],
        &dir.join("out"),
    )
}

/// The columns `names` of every row of the CSV file at `path`, as numbers, filtered by
/// `keep` on the whole row.
fn csv_numbers(
    path: &Path,
    names: &[&str],
    keep: impl Fn(&csv::StringRecord, &csv::StringRecord) -> bool,
) -> Vec<Vec<f64>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers = reader.headers().unwrap().clone();
    let columns: Vec<usize> = names
        .iter()
        .map(|name| headers.iter().position(|h| h == *name).unwrap())
        .collect();
    reader
        .records()
        .map(Result::unwrap)
        .filter(|row| keep(&headers, row))
        .map(|row| columns.iter().map(|&c| row[c].parse().unwrap()).collect())
        .collect()
}

/// The decode paragraph after the table: the weights' rate each design reaches while it
/// decodes (to the nearest 5 GB/s), and GPT-2's bank-model bytes per burst and bus
/// overhead.
#[test]
fn the_decode_paragraph_is_the_tools() {
    const GPT2: (&str, &str, &str) = (
        "configs/models/gpt2-medium.config.json",
        "configs/designs/u280-fp16-gemv.toml",
        "8",
    );
    const LLAMA: (&str, &str, &str) = (
        "configs/models/llama-2-7b.config.json",
        "configs/designs/u280-w4a8-gemv.toml",
        "16",
    );
    let rate = |(model, design, tokens): (&str, &str, &str)| {
        let dir = tempfile::tempdir().unwrap();
        let summary = decode_run(model, design, &[], tokens, dir.path());
        let decoding = |headers: &csv::StringRecord, row: &csv::StringRecord| {
            row[headers.iter().position(|h| h == "encoder").unwrap()] == *"decode"
        };
        let path = dir.path().join("out/kernels.csv");
        let bytes: f64 = csv_numbers(&path, &["bytes_tiled"], decoding)
            .iter()
            .map(|row| row[0])
            .sum();
        let decode = &summary["decode"];
        let seconds =
            decode["tokens"].as_f64().unwrap() * decode["mean_token_ms"].as_f64().unwrap() / 1e3;
        (bytes / seconds / 1e9 / 5.0).round() * 5.0
    };
    let dir = tempfile::tempdir().unwrap();
    let bank = ("memory = \"hbm\"", "memory = \"dram\"");
    decode_run(GPT2.0, GPT2.1, &[bank], GPT2.2, dir.path());
    let channels = csv_numbers(
        &dir.path().join("out/channels.csv"),
        &[
            "bytes",
            "bursts",
            "data_fraction",
            "burst_overhead_fraction",
        ],
        |_, _| true,
    );
    let sum = |column: usize| channels.iter().map(|row| row[column]).sum::<f64>();
    let text = paragraph_text("Neither design reaches the HBM floor", "GB/s");
    for quoted in [
        format!("~{} GB/s and ~{} GB/s of the 425", rate(LLAMA), rate(GPT2)),
        format!("({:.0} B per burst on average for GPT-2)", sum(0) / sum(1)),
        format!(
            "bus time {:.0} % beyond the data's",
            sum(3) / sum(2) * 100.0
        ),
    ] {
        assert_says(&text, &quoted);
    }
}

/// The decode designs' table (fast and bank-level HBM, the README's commands) and the
/// weight-layout paragraph: LLaMA2-7B's token at 16, 32 and 64 outputs per tile (`--decode
/// 2`), row-major and tile-major, GPT-2 medium's tile-major token (`--decode 8`, as in the
/// table), and both on the bank model tile-major (the table's commands).
#[test]
fn the_decode_figures_are_the_tools() {
    const LLAMA: &str = "configs/models/llama-2-7b.config.json";
    const GPT2: &str = "configs/models/gpt2-medium.config.json";
    const W4A8: &str = "configs/designs/u280-w4a8-gemv.toml";
    const FP16: &str = "configs/designs/u280-fp16-gemv.toml";
    const BANK: (&str, &str) = ("memory = \"hbm\"", "memory = \"dram\"");
    const TILE_MAJOR: (&str, &str) = ("[hbm]\n", "[hbm]\nweight_layout = \"tile_major\"\n");
    let rows = table("| design | after | model, cache | simulated ms/token");
    let quoted = |row: usize| -> (f64, f64) {
        let cell = &rows[row][3];
        let number = |text: &str| -> f64 {
            text.chars()
                .take_while(is_numeric)
                .collect::<String>()
                .parse()
                .unwrap()
        };
        let bank = cell.split("bank model ").nth(1).unwrap();
        (number(cell), number(bank))
    };
    for (row, model, design, tokens) in [(0, LLAMA, W4A8, "16"), (1, GPT2, FP16, "8")] {
        let fast = decode_ms(model, design, &[], tokens);
        let bank = decode_ms(model, design, &[BANK], tokens);
        assert_eq!(quoted(row), (round(fast, 2), round(bank, 2)), "{design}");
    }

    let paragraph = "**Weight layout.**";
    let width = |tn: &'static str| ("tn = 64", tn);
    let row_major: Vec<f64> = ["tn = 16", "tn = 32", "tn = 64"]
        .iter()
        .map(|&tn| decode_ms(LLAMA, W4A8, &[width(tn)], "2"))
        .collect();
    let tile_major: Vec<f64> = ["tn = 16", "tn = 32", "tn = 64"]
        .iter()
        .map(|&tn| decode_ms(LLAMA, W4A8, &[width(tn), TILE_MAJOR], "2"))
        .collect();
    let text = paragraph_at(paragraph, "ms per token").0;
    let figures = |after: &str, count: usize| -> Vec<f64> {
        let from = text.find(after).unwrap() + after.len();
        text[from..]
            .split(|c: char| !is_numeric(&c))
            .filter(|word| !word.is_empty() && word.contains('.'))
            .take(count)
            .map(|word| word.parse().unwrap())
            .collect()
    };
    let rounded = |values: &[f64], decimals| -> Vec<f64> {
        values.iter().map(|&v| round(v, decimals)).collect()
    };
    assert_eq!(
        figures("the answer moves with the tile's width: ", 3),
        rounded(&row_major, 1)
    );
    assert_eq!(figures("whatever its width: ", 3), rounded(&tile_major, 2));
    let gpt2 = decode_ms(GPT2, FP16, &[TILE_MAJOR], "8");
    assert_eq!(
        quoted_before(paragraph, " ms (`--decode 8`)"),
        round(gpt2, 2)
    );
    let banked = [
        decode_ms(LLAMA, W4A8, &[TILE_MAJOR, BANK], "16"),
        decode_ms(GPT2, FP16, &[TILE_MAJOR, BANK], "8"),
    ];
    assert_eq!(figures("fast\nmodel (", 2), rounded(&banked, 2));
}

/// `achieved_gb_per_s` of the one configuration `roofsim probe hbm ARGS` runs.
fn probe_gb_per_s(args: &[&str]) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    job(&[&["probe", "hbm"][..], args].concat(), dir.path());
    let mut rows = csv::Reader::from_path(dir.path().join("probe.csv")).unwrap();
    let headers = rows.headers().unwrap().clone();
    let column = headers
        .iter()
        .position(|name| name == "achieved_gb_per_s")
        .unwrap();
    let records: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    assert_eq!(
        records.len(),
        1,
        "{args:?} ran {} configurations",
        records.len()
    );
    records[0][column].parse().unwrap()
}

/// The numbers a table cell quotes (`0.107 / 1.575`), each with its decimals; a remark in
/// parentheses after them is not one.
fn cell_numbers(cell: &str) -> Vec<(f64, i32)> {
    let figures = cell.split('(').next().unwrap_or_default();
    figures
        .split(|c: char| !is_numeric(&c))
        .filter(|word| !word.is_empty() && word.chars().any(|c| c.is_ascii_digit()))
        .map(|word| {
            let decimals = word.split('.').nth(1).map_or(0, |d| d.len() as i32);
            (word.parse().unwrap(), decimals)
        })
        .collect()
}

/// The probe table's bank and fast model columns, and the bank model's figures after it,
/// run again with `roofsim probe hbm`.
#[test]
fn the_probe_figures_are_the_tools() {
    let rows = table("| figure (U280) | published | bank model | fast model |");
    let one = ["--pattern", "sequential", "--channels", "1"];
    let with = |memory: &str, extra: &[&'static str]| -> Vec<String> {
        let mut args: Vec<String> = ["--memory", memory].map(String::from).to_vec();
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    };
    // Per table row: the probe arguments of each quoted figure (both models).
    let cases: [(usize, Vec<Vec<&'static str>>); 6] = [
        (0, vec![[&one[..], &["--burst-bytes", "512"]].concat()]),
        (1, vec![[&one[..], &["--burst-bytes", "32"]].concat()]),
        (
            2,
            vec![vec![
                "--pattern",
                "sequential",
                "--channels",
                "32",
                "--burst-bytes",
                "512",
            ]],
        ),
        (
            7,
            vec![
                [
                    &one[..],
                    &["--burst-bytes", "512", "--switch-distance", "3"],
                ]
                .concat(),
            ],
        ),
        (
            8,
            vec![vec![
                "--pattern",
                "sequential",
                "--channels",
                "4",
                "--burst-bytes",
                "512",
                "--switch-distance",
                "1",
            ]],
        ),
        (
            5,
            ["32", "512"]
                .iter()
                .map(|&b| {
                    [
                        &one[..],
                        &["--hls", "--outstanding", "1", "--burst-bytes", b],
                    ]
                    .concat()
                })
                .collect(),
        ),
    ];
    for (row, figures) in cases {
        for (column, memory) in [(2, "dram"), (3, "fast")] {
            let quoted = cell_numbers(&rows[row][column]);
            if quoted.is_empty() {
                continue;
            }
            let measured: Vec<(f64, i32)> = figures
                .iter()
                .zip(&quoted)
                .map(|(args, &(_, decimals))| {
                    let args = with(memory, args);
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    (round(probe_gb_per_s(&args), decimals), decimals)
                })
                .collect();
            assert_eq!(quoted, measured, "row {row} ({}), {memory}", rows[row][0]);
        }
    }
    let writes: Vec<(f64, i32)> = ["32", "512"]
        .iter()
        .zip(cell_numbers(&rows[6][2]))
        .map(|(&bytes, (_, decimals))| {
            let args = [
                "--memory",
                "dram",
                "--hls",
                "--outstanding",
                "1",
                "--write-share",
                "1",
                "--burst-bytes",
                bytes,
            ];
            let args = [&one[..], &args[..]].concat();
            (round(probe_gb_per_s(&args), decimals), decimals)
        })
        .collect();
    assert_eq!(cell_numbers(&rows[6][2]), writes);

    let paragraph = "What the bank model shows that the fast one cannot";
    let bank = |extra: &[&str]| {
        let args = [&["--memory", "dram", "--channels", "1"][..], extra].concat();
        probe_gb_per_s(&args)
    };
    let strided = bank(&["--pattern", "strided", "--burst-bytes", "32"]);
    assert_eq!(quoted_in(paragraph, "stride reach\n"), round(strided, 1));
    let random = bank(&["--pattern", "random", "--burst-bytes", "32"]);
    assert_eq!(quoted_in(paragraph, "random 32 B reads "), round(random, 1));
    let mixed = bank(&[
        "--pattern",
        "sequential",
        "--burst-bytes",
        "512",
        "--write-share",
        "0.5",
    ]);
    assert_eq!(quoted_in(paragraph, "writes of 512 B "), round(mixed, 1));

    // The fast model's paragraph: the bank model's bursts it was fitted to, and a tensor
    // striped over 16 channels in 64 KiB and in 512 B stripes.
    let paragraph = "The counts equal those of";
    let sequential = |bytes| bank(&["--pattern", "sequential", "--burst-bytes", bytes]);
    assert_eq!(
        quoted_in(paragraph, "512 B\nbursts give "),
        round(sequential("512"), 1)
    );
    assert_eq!(
        quoted_in(paragraph, "32 B bursts "),
        round(sequential("32"), 1)
    );
    let dir = tempfile::tempdir().unwrap();
    let default = std::fs::read_to_string("configs/designs/u280-int8.toml").unwrap();
    let wide = dir.path().join("wide-stripes.toml");
    std::fs::write(
        &wide,
        default.replace("stripe_bytes = 512", "stripe_bytes = 65536"),
    )
    .unwrap();
    let striped = |design: &str| {
        probe_gb_per_s(&[
            "--design",
            design,
            "--pattern",
            "striped",
            "--channels",
            "16",
            "--burst-bytes",
            "512",
        ])
    };
    let text = paragraph_text("**`roofsim probe hbm`**", "KiB stripes");
    assert_says(
        &text,
        &format!(
            "64 KiB stripes read 16 channels at {:.0} GB/s where 512 B stripes reach {:.0}",
            striped(wide.to_str().unwrap()),
            striped("configs/designs/u280-int8.toml")
        ),
    );
}

/// The fast-against-bank table: each access pattern on both models.
#[test]
fn the_fast_against_bank_table_is_the_tools() {
    let rows = table("| access pattern | fast model GB/s | bank model GB/s | fast vs bank |");
    let patterns: [&[&str]; 9] = [
        &["--pattern", "sequential", "--burst-bytes", "32"],
        &["--pattern", "sequential", "--burst-bytes", "512"],
        &["--pattern", "strided", "--burst-bytes", "32"],
        &["--pattern", "strided", "--burst-bytes", "512"],
        &["--pattern", "random", "--burst-bytes", "32"],
        &["--pattern", "random", "--burst-bytes", "512"],
        &[
            "--pattern",
            "random",
            "--burst-bytes",
            "32",
            "--working-set-bytes",
            "32768",
        ],
        &[
            "--pattern",
            "sequential",
            "--burst-bytes",
            "512",
            "--write-share",
            "0.5",
        ],
        &[
            "--pattern",
            "sequential",
            "--burst-bytes",
            "64",
            "--write-share",
            "0.5",
        ],
    ];
    assert_eq!(rows.len(), patterns.len());
    for (row, pattern) in rows.iter().zip(patterns) {
        let run = |memory: &str| {
            let args = [&["--memory", memory, "--channels", "1"][..], pattern].concat();
            probe_gb_per_s(&args)
        };
        let (fast, bank) = (run("fast"), run("dram"));
        assert_eq!(
            (cell_numbers(&row[1])[0].0, cell_numbers(&row[2])[0].0),
            (round(fast, 2), round(bank, 2)),
            "{}",
            row[0]
        );
        let quoted = &row[3];
        let gap = format!("{:+.0} %", (fast / bank - 1.0) * 100.0);
        assert_eq!(quoted, &gap, "{}", row[0]);
    }
}

/// The clock paragraph's example: the spatial design at its own clock and at the expected
/// one (`--clock-from-model`).
#[test]
fn the_clock_example_is_the_tools() {
    let dir = tempfile::tempdir().unwrap();
    let spatial = ["--design", "configs/designs/u280-int8-spatial.toml"];
    let own = simulate(&spatial, &dir.path().join("own"));
    let expected = simulate(
        &[&spatial[..], &["--clock-from-model"]].concat(),
        &dir.path().join("expected"),
    );
    let ms = |summary: &serde_json::Value| summary["total"]["ms"].as_f64().unwrap();
    let slr0 = &own["resources"]["slrs"][0];
    let text = paragraph_text("platform's kernel region leaves it", "--clock-from-model");
    let quoted = format!(
        "SLR0 at {:.0} % of its DSPs, {} MHz, {:.0} → {:.0} ms",
        slr0["dsp_share"].as_f64().unwrap() * 100.0,
        own["resources"]["clock"]["expected_mhz"].as_f64().unwrap(),
        ms(&own),
        ms(&expected)
    );
    assert_says(&text, &quoted);
}

/// The logic and link-storage figures: the default design's LUT and FF shares per SLR, the
/// spatial design's SLR0, its FC1 → FC2 FIFO and Q/K/V buffer, the MLP-stream design's lines.
#[test]
fn the_logic_and_link_figures_are_the_tools() {
    let dir = tempfile::tempdir().unwrap();
    let platform = roofsim::config::platform::default_platform();
    let run = |design: &str| {
        let path = format!("configs/designs/{design}.toml");
        simulate(&["--design", path.as_str()], &dir.path().join(design))["resources"].clone()
    };
    // Per SLR: LUTs (multipliers, logic, LUT memories) and FFs as percentages of its own.
    let shares = |resources: &serde_json::Value| -> Vec<(f64, f64)> {
        let slrs = resources["slrs"].as_array().unwrap();
        slrs.iter()
            .zip(&platform.slrs)
            .map(|(used, slr)| {
                let field = |name: &str| used[name].as_u64().unwrap() as f64;
                let luts = field("luts") + field("logic_luts") + field("memory_luts");
                (
                    luts / slr.luts as f64 * 100.0,
                    field("ffs") / slr.ffs as f64 * 100.0,
                )
            })
            .collect()
    };
    let span = |values: Vec<f64>| {
        let low = values.iter().copied().fold(f64::MAX, f64::min);
        let high = values.iter().copied().fold(f64::MIN, f64::max);
        format!("{low:.0}–{high:.0} %")
    };
    let default = shares(&run("u280-int8"));
    let spatial_resources = run("u280-int8-spatial");
    let spatial = shares(&spatial_resources);
    let text = paragraph_text("platform's kernel region leaves it", "**Logic**");
    let link = |resources: &serde_json::Value, name: &str| -> serde_json::Value {
        let links = resources["links"].as_array().unwrap();
        links.iter().find(|l| l["link"] == name).unwrap().clone()
    };
    let fifo = link(&spatial_resources, "vision/fc1_gelu -> vision/fc2");
    let storage = &fifo["storage"][0];
    let mlp = link(
        &run("u280-int8-mlp-stream"),
        "vision/fc1_gelu -> vision/fc2",
    );
    for quoted in [
        format!(
            "the default design fills {} of each SLR's LUTs and {} of its FFs",
            span(default.iter().map(|s| s.0).collect()),
            span(default.iter().map(|s| s.1).collect())
        ),
        format!(
            "spatial design's SLR0 {:.0} % and {:.0} %",
            spatial[0].0, spatial[0].1
        ),
        format!(
            "FC1 → FC2 stream: {} KB in {} RAMB36 of SLR{}",
            fifo["bytes"].as_u64().unwrap() / 1024,
            storage["bram_blocks"],
            storage["slr"]
        ),
        format!(
            "SLR0's URAM brings it to {:.0} %",
            spatial_resources["slrs"][0]["uram_share"].as_f64().unwrap() * 100.0
        ),
        format!("the MLP-stream design: {} on SLR0–SLR1", mlp["slls"][0]),
    ] {
        assert_says(&text, &quoted);
    }
}

/// The expert's MACs per observation and their share of the robot step's, at 3 cameras and
/// at one (`roofline --pipeline full`, its `roofline.csv`).
#[test]
fn the_expert_share_is_the_tools() {
    let dir = tempfile::tempdir().unwrap();
    let expert_macs = |cameras: &str| -> (f64, f64) {
        let out = dir.path().join(cameras);
        job(
            &["roofline", "--pipeline", "full", "--cameras", cameras],
            &out,
        );
        let mut rows = csv::Reader::from_path(out.join("roofline.csv")).unwrap();
        let headers = rows.headers().unwrap().clone();
        let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
        let (encoder, macs, precision) = (column("encoder"), column("macs"), column("precision"));
        let (mut expert, mut all) = (0.0, 0.0);
        // One row per kernel and precision: the design's (INT8) once.
        for row in rows.records().map(Result::unwrap) {
            if &row[precision] != "int8" {
                continue;
            }
            let value: f64 = row[macs].parse().unwrap();
            all += value;
            if &row[encoder] == "expert" {
                expert += value;
            }
        }
        (expert, expert / all * 100.0)
    };
    let (three, share_three) = expert_macs("3");
    let (_, share_one) = expert_macs("1");
    let text = paragraph_text("The summary adds the robot step", "GMACs");
    let quoted = format!(
        "{:.2} GMACs per observation at 3 cameras, {:.1} % of the step; {:.1} % at one camera",
        three / 1e9,
        share_three,
        share_one
    );
    assert_says(&text, &quoted);
}

/// The per-SLR sweep's paragraph: how many of its points fit, and the fastest INT8 and INT4
/// designs with their time per observation (and the INT8 one's DSPs).
#[test]
fn the_per_slr_sweeps_best_points_are_the_tools() {
    let dir = tempfile::tempdir().unwrap();
    let printed = job(
        &["sweep", "--sweep", "configs/sweeps/smolvla-per-slr.toml"],
        dir.path(),
    );
    let grouped =
        "skipped 16: arrays: 2–6 arrays of 96x96 and 0 named engine(s) need 9216–27648 DSPs";
    assert!(README.contains(&format!("`{grouped}`")));
    assert!(printed.contains(grouped), "{printed}");
    let mut reader = csv::Reader::from_path(dir.path().join("sweep.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let fit: Vec<&csv::StringRecord> = rows
        .iter()
        .filter(|r| &r[column("status")] == "ok")
        .collect();
    let fastest = |precision: &str| {
        let ms = |r: &csv::StringRecord| r[column("total_ms")].parse::<f64>().unwrap();
        fit.iter()
            .filter(|r| &r[column("precision")] == precision)
            .min_by(|a, b| ms(a).total_cmp(&ms(b)))
            .map(|r| {
                let shape = r[column("array_shape")].replace('x', "×");
                let dsps: u64 = r[column("dsps")].parse().unwrap();
                (
                    format!("{} × {shape}", &r[column("array_count")]),
                    ms(r),
                    dsps,
                )
            })
            .unwrap()
    };
    let (int8, int4) = (fastest("int8"), fastest("int4"));
    let text = paragraph_text("A sweep TOML (`configs/sweeps/`)", "points");
    for quoted in [
        format!("of {} points {} fit", rows.len(), fit.len()),
        format!(
            "the fastest INT8 design is {} arrays ({:.1} ms per observation, {},{:03} DSPs)",
            int8.0,
            int8.1,
            int8.2 / 1000,
            int8.2 % 1000
        ),
        format!("the fastest INT4 {} ({:.1} ms)", int4.0, int4.1),
    ] {
        assert_says(&text, &quoted);
    }
}

/// The example's terminal excerpt: every line it quotes is a line `roofsim roofline` prints
/// (whitespace aside).
#[test]
fn the_example_excerpt_is_what_roofline_prints() {
    let dir = tempfile::tempdir().unwrap();
    let printed = job(&["roofline"], dir.path());
    let words = |line: &str| line.split_whitespace().collect::<Vec<_>>().join(" ");
    let printed: Vec<String> = printed.lines().map(words).collect();
    let example = README
        .split("## Example: smolVLA encoders on the U280")
        .nth(1)
        .unwrap();
    let block = example.split("```").nth(1).unwrap();
    let quoted: Vec<&str> = block.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(quoted.len() > 5, "{block}");
    for line in quoted {
        assert!(
            printed.contains(&words(line)),
            "roofline no longer prints {line:?}"
        );
    }
}

/// `--verify 3` on the INT8/INT4 sweep: the bank model's difference on the three fastest
/// Pareto points, and whether their ranking holds.
#[test]
fn the_verify_example_is_the_tools() {
    let dir = tempfile::tempdir().unwrap();
    job(
        &[
            "sweep",
            "--sweep",
            "configs/sweeps/smolvla-int8-int4.toml",
            "--verify",
            "3",
        ],
        dir.path(),
    );
    let rows = csv_numbers(
        &dir.path().join("verify.csv"),
        &["difference_percent", "fast_rank", "dram_rank"],
        |_, _| true,
    );
    let low = rows.iter().map(|r| r[0]).fold(f64::MAX, f64::min);
    let high = rows.iter().map(|r| r[0]).fold(f64::MIN, f64::max);
    let kept = rows.iter().all(|r| r[1] == r[2]);
    let text = paragraph_text("- `--verify K` runs", "ranking");
    assert!(kept, "{rows:?}");
    assert_says(&text, &format!("{low:+.1} to {high:+.1} %, ranking kept"));
}

/// The `[control]` paragraph: GPT-2 medium's token on `u280-fp16-gemv` with each control
/// cost, the operations and layers per token they imply, and the cost per operation that
/// would reach DFX's published 5.40 ms.
#[test]
fn the_control_paragraph_is_the_tools() {
    const GPT2: &str = "configs/models/gpt2-medium.config.json";
    const FP16: &str = "configs/designs/u280-fp16-gemv.toml";
    const BANK: (&str, &str) = ("memory = \"hbm\"", "memory = \"dram\"");
    let with = |control: &str, bank: bool| {
        let section = format!("[control]\n{control}\n\n[mapping]\n");
        let mut edits = vec![("[mapping]\n", section.as_str())];
        if bank {
            edits.push(BANK);
        }
        decode_ms(GPT2, FP16, &edits, "8")
    };
    let text = paragraph_at("**Instruction-driven control", "ms").0;
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let plain = decode_ms(GPT2, FP16, &[], "8");
    let clock_hz = 200e6;
    let per_token_cycles = |ms: f64| (ms - plain) / 1e3 * clock_hz;
    let issue = with("operation_issue_cycles = 1000", false);
    let operations = (per_token_cycles(issue) / 1000.0).round();
    let layer_sync = with("layer_sync_cycles = 1000", false);
    let layers = (per_token_cycles(layer_sync) / 1000.0).round();
    assert_says(
        &text,
        &format!(
            "{plain:.2} ms per token without control): a token is {operations} operations and \
             {layers} layers, so 1,000 cycles per operation add {:.2} ms and 1,000 per layer \
             {:.2} ms",
            issue - plain,
            layer_sync - plain
        ),
    );
    let stages = with(
        "operation_issue_cycles = 10\noperation_sync_cycles = 10\nlayer_sync_cycles = 100",
        false,
    );
    assert_says(
        &text,
        &format!(
            "add {:.1} % ({stages:.2} ms)",
            (stages / plain - 1.0) * 100.0
        ),
    );
    let per_operation = (5.40 - plain) / 1e3 * clock_hz / operations;
    assert_says(
        &text,
        &format!(
            "about {},{:03} cycles ({:.1} µs)",
            (per_operation / 10.0).round() as u64 * 10 / 1000,
            (per_operation / 10.0).round() as u64 * 10 % 1000,
            per_operation / clock_hz * 1e6
        ),
    );
    let setups: Vec<String> = ["1", "32", "256"]
        .iter()
        .map(|c| format!("{:.2}", with(&format!("dma_setup_cycles = {c}"), false)))
        .collect();
    assert_says(
        &text,
        &format!("give {}, {} and {} ms", setups[0], setups[1], setups[2]),
    );
    let bank: Vec<String> = ["0", "1", "32"]
        .iter()
        .map(|c| format!("{:.2}", with(&format!("dma_setup_cycles = {c}"), true)))
        .collect();
    assert_says(
        &text,
        &format!(
            "bank model: {} without, {} and {} ms with 1 and 32",
            bank[0], bank[1], bank[2]
        ),
    );
    const TILE_MAJOR: (&str, &str) = ("[hbm]\n", "[hbm]\nweight_layout = \"tile_major\"\n");
    let tiled = |control: &str| {
        let section = format!("[control]\n{control}\n\n[mapping]\n");
        decode_ms(
            GPT2,
            FP16,
            &[TILE_MAJOR, ("[mapping]\n", section.as_str())],
            "8",
        )
    };
    let (plain, one, many) = (
        tiled(""),
        tiled("dma_setup_cycles = 1"),
        tiled("dma_setup_cycles = 32"),
    );
    assert_says(
        &text,
        &format!(
            "({plain:.2} ms without control) that ordering is worth {:.0} % and set-ups cost \
             time: {one:.2} and {many:.2} ms at 1 and 32 cycles",
            (1.0 - one / plain) * 100.0
        ),
    );
}

/// The token-serial paragraph: GPT-2 medium's 128-token prompt on `u280-fp16-gemv`, one
/// token at a time and in parallel, and DFX's published 692.8 ms against the first.
#[test]
fn the_token_serial_paragraph_is_the_tools() {
    let text = paragraph_at("**Token-serial prefill", "ms").0;
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let prefill_ms = |mode: &str| {
        let dir = tempfile::tempdir().unwrap();
        let summary = simulate(
            &[
                "--model",
                "configs/models/gpt2-medium.config.json",
                "--design",
                "configs/designs/u280-fp16-gemv.toml",
                "--language-tokens",
                "128",
                "--state-tokens",
                "0",
                "--prefill",
                mode,
            ],
            &dir.path().join("out"),
        );
        summary["total"]["ms"].as_f64().unwrap()
    };
    let (serial, parallel) = (prefill_ms("token-serial"), prefill_ms("parallel"));
    assert_says(
        &text,
        &format!("takes {serial:.2} ms token-serial against {parallel:.2} ms in parallel"),
    );
    assert_says(
        &text,
        &format!(
            "DFX is {:.2}× roofsim's token-serial figure",
            692.8 / serial
        ),
    );
}

/// Every line of the README's tour runs from a folder outside the checkout (shipped configs
/// by name), exits 0 and says what it wrote.
#[test]
fn the_tour_runs_line_by_line() {
    let readme = include_str!("../../README.md");
    let tour = readme
        .split("## A ten-line tour")
        .nth(1)
        .and_then(|rest| rest.split("```sh\n").nth(1))
        .and_then(|block| block.split("```").next())
        .expect("the README has its tour");
    let lines: Vec<&str> = tour.lines().collect();
    assert_eq!(lines.len(), 10, "the tour is ten lines");
    let folder = tempfile::tempdir().unwrap();
    for line in lines {
        let command = line.split(" # ").next().unwrap().trim();
        let args: Vec<&str> = command.split_whitespace().collect();
        assert_eq!(args[0], "roofsim", "{line}");
        let done = std::process::Command::new(env!("CARGO_BIN_EXE_roofsim"))
            .args(&args[1..])
            .current_dir(folder.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&done.stderr);
        assert!(done.status.success(), "`{command}` failed: {stderr}");
        let stdout = String::from_utf8_lossy(&done.stdout);
        assert!(
            args[1] == "list" || format!("{stdout}{stderr}").contains("wrote "),
            "`{command}` wrote nothing"
        );
    }
}

/// Every relative link of the README and the user guide names a file that exists, and an
/// anchor a heading of that file; the book's summary lists every chapter once.
#[test]
fn the_manual_links_resolve() {
    let mut files = Vec::new();
    let mut folders = vec![std::path::PathBuf::from("docs/src")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                files.push(path);
            }
        }
    }
    files.sort();
    let summary = std::fs::read_to_string("docs/src/SUMMARY.md").unwrap();
    for file in &files {
        let name = file.strip_prefix("docs/src").unwrap().to_str().unwrap();
        if name != "SUMMARY.md" {
            let listed = summary.matches(&format!("]({name})")).count();
            assert_eq!(listed, 1, "SUMMARY.md lists {name} {listed} times");
        }
    }
    files.push("README.md".into());
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for target in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let linked = if path.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap().join(path)
            };
            assert!(
                linked.exists(),
                "{}: link to {target}: no such file",
                file.display()
            );
            if !anchor.is_empty() {
                let heading_slugs: Vec<String> = std::fs::read_to_string(&linked)
                    .unwrap()
                    .lines()
                    .filter_map(|line| line.strip_prefix('#'))
                    .map(|heading| slug(heading.trim_start_matches('#')))
                    .collect();
                assert!(
                    heading_slugs.iter().any(|s| s == anchor),
                    "{}: link to {target}: no such heading",
                    file.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} links found");
}

/// The targets of the Markdown links `[text](target)` of `text`, outside code blocks.
fn links(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        }
        if in_code {
            continue;
        }
        for (at, _) in line.match_indices("](") {
            let rest = &line[at + 2..];
            if let Some(end) = rest.find(')') {
                targets.push(rest[..end].to_string());
            }
        }
    }
    targets
}

/// A heading's anchor as GitHub and mdBook make it: lower case, spaces to hyphens, other
/// punctuation dropped.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// `docs/src/summary.schema.json` is the JSON Schema generated from `summary.json`'s Rust
/// type (regenerate it with `UPDATE_SCHEMA=1 cargo test --test integration summary_schema`), and
/// the summaries of a default, a full-pipeline and a decode run use only the properties it
/// lists, at every level.
#[test]
fn the_summary_schema_is_the_types() {
    let path = "docs/src/summary.schema.json";
    let generated = roofsim::report::summary_schema();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap();
    assert_eq!(
        committed, generated,
        "{path} is stale: rerun with UPDATE_SCHEMA=1"
    );
    let schema: serde_json::Value = serde_json::from_str(&committed).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["--vision-layers", "1", "--text-layers", "1"][..],
        &[
            "--pipeline",
            "full",
            "--vision-layers",
            "1",
            "--text-layers",
            "1",
        ],
        &[
            "--model",
            "configs/models/gpt2-medium.config.json",
            "--text-layers",
            "1",
            "--decode",
            "2",
        ],
    ] {
        let summary = simulate(args, &dir.path().join("out"));
        let mut unlisted = Vec::new();
        unlisted_properties(&schema, &schema, &summary, "", &mut unlisted);
        assert!(
            unlisted.is_empty(),
            "{args:?}: not in the schema: {unlisted:?}"
        );
    }
}

/// The paths of `value`'s object keys that `schema` (resolving `$ref`s against `root`,
/// and the members of `allOf`/`anyOf`/`oneOf`) does not list.
fn unlisted_properties(
    root: &serde_json::Value,
    schema: &serde_json::Value,
    value: &serde_json::Value,
    path: &str,
    unlisted: &mut Vec<String>,
) {
    let resolve = |schema: &serde_json::Value| -> serde_json::Value {
        match schema.get("$ref").and_then(|r| r.as_str()) {
            Some(reference) => root
                .pointer(reference.trim_start_matches('#'))
                .unwrap_or_else(|| panic!("unresolved {reference}"))
                .clone(),
            None => schema.clone(),
        }
    };
    let schema = resolve(schema);
    let mut alternatives = vec![schema.clone()];
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(members) = schema.get(key).and_then(|m| m.as_array()) {
            alternatives.extend(members.iter().map(&resolve));
        }
    }
    match value {
        serde_json::Value::Object(object) => {
            for (key, child) in object {
                let listed = alternatives
                    .iter()
                    .find_map(|alternative| alternative.get("properties")?.get(key).cloned())
                    .or_else(|| {
                        alternatives.iter().find_map(|a| {
                            a.get("additionalProperties")
                                .filter(|s| s.is_object())
                                .cloned()
                        })
                    });
                match listed {
                    Some(child_schema) => unlisted_properties(
                        root,
                        &child_schema,
                        child,
                        &format!("{path}/{key}"),
                        unlisted,
                    ),
                    None => unlisted.push(format!("{path}/{key}")),
                }
            }
        }
        serde_json::Value::Array(items) => {
            let item_schema = alternatives.iter().find_map(|a| a.get("items").cloned());
            if let Some(item_schema) = item_schema.filter(|s| s.is_object()) {
                for item in items {
                    unlisted_properties(root, &item_schema, item, &format!("{path}[]"), unlisted);
                }
            }
        }
        _ => {}
    }
}
