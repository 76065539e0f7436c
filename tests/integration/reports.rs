//! `roofsim analyze`: the roofline and the simulation of the built-in defaults in one folder,
//! equal to what `roofline` and `simulate` write alone, with one report holding both; and
//! the pictures a dataflow design adds.

use assert_cmd::Command;
use std::path::Path;

fn run(args: &[&str], out: &Path) -> String {
    let output = Command::cargo_bin("roofsim")
        .unwrap()
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|error| panic!("{name}: {error}"))
}

#[test]
fn analyze_is_the_roofline_and_the_simulation_with_one_report() {
    let dir = tempfile::tempdir().unwrap();
    // The roofline follows the design's fusion (the built-in design fuses the activation into
    // its GEMM and Q, K, V into one), so the two answers speak of the same kernels.
    let [analyze, roofline, simulate] = [
        &["analyze"][..],
        &["roofline", "--fuse", "gemm-act,qkv"],
        &["simulate"],
    ]
    .map(|args| {
        let out = dir.path().join(args[0]);
        let text = run(args, &out);
        (out, text)
    });
    let (out, text) = &analyze;
    for name in ["kernels.csv", "channels.csv", "engines.csv", "summary.json"] {
        assert!(read(out, name) == read(&simulate.0, name), "{name}");
    }
    for name in ["roofline.csv", "vision_roofline.svg", "text_roofline.svg"] {
        assert!(read(out, name) == read(&roofline.0, name), "{name}");
    }
    // Both answers on the terminal, then where the report is.
    assert!(text.starts_with(&roofline.1));
    assert!(text.contains(&simulate.1));
    let report = out.join("report.html");
    assert!(text.ends_with(&format!("report: {}\n", report.display())));
    // The report shows the three pictures of the simulation and the two roofline plots, in
    // that order, each once.
    let html = String::from_utf8(read(out, "report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 5);
    let headings = [
        "Roofline against simulation",
        "Where the cycles went",
        "Engines and HBM over the run",
        "Roofline: vision encoder and connector",
        "Roofline: text encoder",
    ];
    let positions: Vec<usize> = headings
        .iter()
        .map(|heading| html.find(&format!("<h2>{heading}</h2>")).expect(heading))
        .collect();
    assert!(positions.windows(2).all(|pair| pair[0] < pair[1]));
    // Simulate's own report is the same page without the roofline plots.
    let simulate_html = String::from_utf8(read(&simulate.0, "report.html")).unwrap();
    assert_eq!(simulate_html.matches("<svg").count(), 3);
}

#[test]
fn analyze_puts_the_design_precision_first() {
    let dir = tempfile::tempdir().unwrap();
    let text = run(
        &[
            "analyze",
            "--design",
            "configs/designs/u280-int4.toml",
            "--precision",
            "fp16,int4",
            "--vision-layers",
            "1",
            "--text-layers",
            "1",
        ],
        dir.path(),
    );
    let csv = String::from_utf8(read(dir.path(), "roofline.csv")).unwrap();
    let precisions: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|line| line.split(',').nth(8).unwrap())
        .fold(Vec::new(), |mut seen, precision| {
            if !seen.contains(&precision) {
                seen.push(precision);
            }
            seen
        });
    assert_eq!(precisions, ["int4", "fp16"]);
    assert!(text.contains("vision encoder at int4"));
}

/// A design whose kernels overlap gets the pipeline model's prediction beside the roofline's
/// for every kernel of the cross-check (a diamond and a dashed line to the simulated point);
/// a sequential design has none, since the model does not describe it.
#[test]
fn dataflow_cross_checks_show_the_pipeline_model() {
    let dir = tempfile::tempdir().unwrap();
    let focused = [
        "--cameras",
        "1",
        "--vision-layers",
        "1",
        "--text-layers",
        "1",
    ];
    let spatial = dir.path().join("spatial");
    let design = ["--design", "configs/designs/u280-int8-spatial.toml"];
    run(&[&["simulate"][..], &design, &focused].concat(), &spatial);
    let sequential = dir.path().join("sequential");
    run(&[&["simulate"][..], &focused].concat(), &sequential);
    // Markers per picture, less the legend's one of each kind.
    let count = |dir: &Path| {
        let svg = String::from_utf8(read(dir, "crosscheck.svg")).unwrap();
        let legend = svg.contains(">pipeline model</text>");
        let kernels = svg.matches("<circle").count() / 2 - 1;
        let diamonds = svg.matches(r#"<path d="M"#).count() - usize::from(legend);
        let dashed = svg.matches(r#"stroke-dasharray="3 2""#).count();
        (kernels, diamonds, dashed, legend)
    };
    let (kernels, diamonds, dashed, legend) = count(&spatial);
    assert!(kernels > 20, "{kernels}");
    assert_eq!((diamonds, dashed, legend), (kernels, kernels, true));
    let (kernels, diamonds, dashed, legend) = count(&sequential);
    assert!(kernels > 20, "{kernels}");
    assert_eq!((diamonds, dashed, legend), (0, 0, false));

    // resources.csv: each SLR's DSPs are its engines' (one stage group per SLR), and the
    // chip row is the summary's.
    let csv = String::from_utf8(read(&spatial, "resources.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    for slr in ["0", "1", "2"] {
        let engines: f64 = rows
            .iter()
            .filter(|r| r[0] == "engine" && r[2] == slr)
            .map(|r| r[3].parse::<f64>().unwrap())
            .sum();
        let row = rows.iter().find(|r| r[0] == "slr" && r[2] == slr).unwrap();
        assert_eq!(row[3].parse::<f64>().unwrap(), engines.ceil(), "SLR{slr}");
    }
    let summary: serde_json::Value =
        serde_json::from_slice(&read(&spatial, "summary.json")).unwrap();
    let chip = rows.iter().find(|r| r[0] == "chip").unwrap();
    assert_eq!(chip[3], summary["resources"]["dsps"].to_string());
    assert_eq!(chip[6], summary["resources"]["uram_blocks"].to_string());
}

/// The full pipeline: the summary's robot step is the encoders plus the expert, equal to
/// the run's total, with its control rate; the cross-attention switch makes it faster; a run
/// without a policy is refused in one line.
#[test]
fn the_full_pipeline_reports_the_robot_step() {
    let dir = tempfile::tempdir().unwrap();
    let step = |name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        let text = run(
            &[&["simulate", "--pipeline", "full"][..], extra].concat(),
            &out,
        );
        let summary: serde_json::Value =
            serde_json::from_slice(&read(&out, "summary.json")).unwrap();
        (text, summary)
    };
    let (text, summary) = step("reference", &[]);
    let robot = &summary["robot_step"];
    let ms = |value: &serde_json::Value| value.as_f64().unwrap();
    let expert = summary["encoders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["encoder"] == "expert")
        .unwrap();
    assert_eq!(ms(&robot["expert_ms"]), ms(&expert["ms"]));
    let latency = ms(&robot["latency_ms"]);
    assert!((latency - ms(&summary["total"]["ms"])).abs() < 1e-9 * latency);
    assert!((ms(&robot["encoders_ms"]) + ms(&robot["expert_ms"]) - latency).abs() < 1e-9);
    assert_eq!(robot["bound_by"], "encoders");
    assert_eq!(robot["flow_steps"], 10);
    let chunks = ms(&robot["chunks_per_s"]);
    assert!((chunks - 1e3 / latency).abs() < 1e-9 * chunks);
    assert!((ms(&robot["actions_per_s"]) - 50.0 * chunks).abs() < 1e-6);
    assert!(text.contains("observation -> action chunk:") && text.contains("whole step"));
    assert!(text.contains("cross-attention K/V at every step (as the reference)"));
    // Projecting the cache once per observation only saves time.
    let (text, once) = step("once", &["--cross-kv-once"]);
    assert!(text.contains("K/V once per observation"));
    assert!(ms(&once["robot_step"]["expert_ms"]) < ms(&robot["expert_ms"]));
    assert_eq!(
        ms(&once["robot_step"]["encoders_ms"]),
        ms(&robot["encoders_ms"])
    );

    let output = Command::cargo_bin("roofsim")
        .unwrap()
        .args([
            "simulate",
            "--pipeline",
            "full",
            "--policy",
            "none",
            "--out",
        ])
        .arg(dir.path().join("refused"))
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr.starts_with("error: --pipeline: `full` needs") && stderr.lines().count() == 1);
    assert!(!dir.path().join("refused").exists());
}

/// Decode on the GEMV design (analysed: simulated and under the roofline): the summary's time
/// to first token is everything before the
/// first generated token, the tokens' times add up to the decode stage, the last token (the
/// longest cache) takes no less time than the first, and weight streaming keeps the tokens
/// HBM-bound. Too many tokens
/// are refused in one line.
#[test]
fn decode_reports_time_to_first_token_and_tokens_per_second() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("decode");
    let text = run(
        &[
            "analyze",
            "--model",
            "configs/models/llama-2-7b.config.json",
            "--design",
            "configs/designs/u280-w4a8-gemv.toml",
            "--language-tokens",
            "127",
            "--state-tokens",
            "0",
            "--text-layers",
            "2",
            "--decode",
            "3",
        ],
        &out,
    );
    assert!(text.contains("decode: time to first token"), "{text}");
    // The decode roofline: every kernel far left, each name once however many tokens.
    let svg = String::from_utf8(read(&out, "decode_roofline.svg")).unwrap();
    assert_eq!(svg.matches("lm_head").count(), 1, "{svg}");
    assert!(svg.contains("scores"));
    let summary: serde_json::Value = serde_json::from_slice(&read(&out, "summary.json")).unwrap();
    let decode = &summary["decode"];
    let number = |value: &serde_json::Value| value.as_f64().unwrap();
    let tokens: Vec<f64> = decode["token_ms"]
        .as_array()
        .unwrap()
        .iter()
        .map(number)
        .collect();
    assert_eq!(tokens.len(), 3);
    // A longer cache costs a little more; weights dominate, so within 1 %.
    assert!(
        tokens[2] >= tokens[0] && tokens[2] < 1.01 * tokens[0],
        "{tokens:?}"
    );
    let stage = |name: &str| {
        summary["encoders"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["encoder"] == name)
            .map_or(0.0, |e| number(&e["ms"]))
    };
    let first = number(&decode["time_to_first_token_ms"]);
    let total = number(&summary["total"]["ms"]);
    assert!((first + tokens.iter().sum::<f64>() - total).abs() < 1e-6 * total);
    assert!(first > stage("text") && first < stage("text") + stage("decode"));
    let per_s = number(&decode["tokens_per_s"]);
    assert!((per_s - 3e3 / tokens.iter().sum::<f64>()).abs() < 1e-6 * per_s);
    let kernels = String::from_utf8(read(&out, "kernels.csv")).unwrap();
    let header: Vec<&str> = kernels.lines().next().unwrap().split(',').collect();
    let column = |name: &str| header.iter().position(|c| *c == name).unwrap();
    let up = kernels
        .lines()
        .find(|line| line.starts_with("decode,0,up_mul,"))
        .unwrap()
        .split(',')
        .collect::<Vec<_>>();
    assert_eq!(up[column("bottleneck")], "hbm_bandwidth", "{up:?}");

    let output = Command::cargo_bin("roofsim")
        .unwrap()
        .args([
            "roofline",
            "--model",
            "configs/models/llama-2-7b.config.json",
        ])
        .args(["--decode", "1000", "--out"])
        .arg(dir.path().join("refused"))
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("error: --decode: 1000 tokens one at a time x 32 text layers")
            && stderr.lines().count() == 1
    );
}

/// The spatial design crowds SLR0 (91 % of its DSPs): the summary warns that 300 MHz is
/// optimistic and expects 225 MHz; `--clock-from-model` simulates at it, which silences the
/// warning and stretches the run by up to 300/225 (HBM time does not scale with the clock).
#[test]
fn clock_from_model_applies_the_expected_clock() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "simulate",
        "--design",
        "configs/designs/u280-int8-spatial.toml",
        "--cameras",
        "1",
        "--vision-layers",
        "1",
        "--text-layers",
        "1",
    ];
    let stated = dir.path().join("stated");
    let text = run(&args, &stated);
    assert!(
        text.contains("clock: WARNING: the design asks 300 MHz; expect 225 MHz"),
        "{text}"
    );
    let modelled = dir.path().join("modelled");
    let text = run(&[&args[..], &["--clock-from-model"]].concat(), &modelled);
    assert!(
        text.contains("clock: 225 MHz is within the expected 225 MHz"),
        "{text}"
    );
    let summary = |dir: &Path| -> serde_json::Value {
        serde_json::from_slice(&read(dir, "summary.json")).unwrap()
    };
    let (before, after) = (summary(&stated), summary(&modelled));
    assert_eq!(before["resources"]["clock"]["optimistic"], true);
    assert_eq!(after["resources"]["clock"]["optimistic"], false);
    assert_eq!(after["design"]["clock_mhz"], 225.0);
    let ratio = after["total"]["ms"].as_f64().unwrap() / before["total"]["ms"].as_f64().unwrap();
    assert!(ratio > 1.2 && ratio <= 300.0 / 225.0 + 1e-9, "{ratio}");
}

/// Power is the board's static power plus HBM plus busy DSPs, each a range; the kernels'
/// dynamic energies add up to the run's HBM and DSP energy; the default design's low end lands
/// in the 35-60 W band of published U280 board readings (35.65 W loaded and idle, FlightLLM
/// ~45 W); the summary states the assumed DSP power it used.
#[test]
fn power_adds_up_and_sits_in_the_published_band() {
    let dir = tempfile::tempdir().unwrap();
    let text = run(&["simulate"], dir.path());
    assert!(text.contains("\npower: "), "{text}");
    let summary: serde_json::Value =
        serde_json::from_slice(&read(dir.path(), "summary.json")).unwrap();
    let power = &summary["power"];
    let pair = |name: &str| {
        let values = power[name].as_array().unwrap();
        (values[0].as_f64().unwrap(), values[1].as_f64().unwrap())
    };
    let (static_w, hbm_w, compute_w) = (pair("static_w"), pair("hbm_w"), pair("compute_w"));
    let (min, max) = (
        power["power_w_min"].as_f64().unwrap(),
        power["power_w_max"].as_f64().unwrap(),
    );
    assert!((min - (static_w.0 + hbm_w.0 + compute_w.0)).abs() < 1e-9);
    assert!((max - (static_w.1 + hbm_w.1 + compute_w.1)).abs() < 1e-9);
    // The low end inside the published band; the high end rides on the assumed 3 mW per
    // busy DSP and overshoots it a little (61.4 W measured).
    assert!((35.0..60.0).contains(&min), "{min}-{max} W");
    assert!(max < 65.0, "{min}-{max} W");
    assert_eq!(pair("assumed_dsp_w_at_300_mhz"), (0.5e-3, 3e-3));
    assert!(
        text.contains("(an assumed 0.5-3 mW per busy DSP at 300 MHz)"),
        "{text}"
    );
    let seconds = summary["total"]["ms"].as_f64().unwrap() / 1e3;
    let energy = pair("energy_j_per_observation");
    assert!((energy.0 - min * seconds).abs() < 1e-9 * energy.0);
    let csv = String::from_utf8(read(dir.path(), "kernels.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let column = |name: &str| header.iter().position(|c| *c == name).unwrap();
    let (low, high) = (
        column("dynamic_energy_uj_min"),
        column("dynamic_energy_uj_max"),
    );
    let (mut sum_low, mut sum_high) = (0.0, 0.0);
    for line in csv.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        sum_low += cells[low].parse::<f64>().unwrap() * 1e-6;
        sum_high += cells[high].parse::<f64>().unwrap() * 1e-6;
    }
    let dynamic = (
        (hbm_w.0 + compute_w.0) * seconds,
        (hbm_w.1 + compute_w.1) * seconds,
    );
    assert!(
        (sum_low - dynamic.0).abs() < 1e-4 * dynamic.0,
        "{sum_low} {dynamic:?}"
    );
    assert!(
        (sum_high - dynamic.1).abs() < 1e-4 * dynamic.1,
        "{sum_high} {dynamic:?}"
    );
}
