//! `roofsim`: the command line over the roofsim library.
//!
//! Exit codes: 0 success (also when stdout is closed early), 1 internal or I/O failure,
//! 2 bad input (arguments, config files, workload options).

use clap::{Args, Parser, Subcommand};
use roofsim::config::model::{self, load_model, load_policy};
use roofsim::config::platform::{self, load_platform};
use roofsim::config::precision::PrecisionPair;
use roofsim::config::{ConfigError, Source};
use roofsim::pipeline::{self, Error, WorkloadChoices};
use roofsim::report::write_all;
use roofsim::workload::Fusion;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "roofsim",
    version,
    about = "Roofline analysis of transformer encoders on FPGAs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Every kernel of the encoders under the platform's roofline, at each precision.
    Roofline(RooflineArgs),
}

#[derive(Args)]
struct InputArgs {
    /// Hugging Face config.json of the model [default: built-in SmolVLM2-500M]
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// smolVLA policy config.json [default: built-in smolvla_base]
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Platform TOML [default: built-in AMD Alveo U280]
    #[arg(long, value_name = "FILE")]
    platform: Option<PathBuf>,
    /// Camera images per observation [default: the policy's, 3]
    #[arg(long, value_name = "N")]
    cameras: Option<u64>,
    /// Language tokens (padded) [default: the policy's, 48]
    #[arg(long, value_name = "N")]
    language_tokens: Option<u64>,
    /// State tokens [default: 1]
    #[arg(long, value_name = "N")]
    state_tokens: Option<u64>,
    /// Text layers to run [default: the policy's, 16]
    #[arg(long, value_name = "N")]
    text_layers: Option<u64>,
    /// Observations processed together (weights are read once per batch)
    #[arg(long, value_name = "N", default_value_t = 1)]
    batch: u64,
    /// Fused kernels, comma-separated: gemm-act, qkv, attention, all, none
    #[arg(long, value_name = "LIST", default_value = "none")]
    fuse: String,
}

#[derive(Args)]
struct RooflineArgs {
    #[command(flatten)]
    inputs: InputArgs,
    /// Precision, `P` for weights and activations or `W/A` separately (fp32, fp16, bf16,
    /// int8, int4); repeat or comma-separate for several; the first is tabled and plotted
    /// [default: int8,int4/int8,int4,fp16,bf16,fp32]
    #[arg(long, value_name = "P")]
    precision: Vec<String>,
    /// Output folder
    #[arg(long, value_name = "DIR", default_value = "traces/roofline")]
    out: PathBuf,
}

/// Bad command-line values, reported like config errors: one line, exit code 2.
fn option_error(option: &str, rule: String) -> Error {
    Error::Config(ConfigError::invalid("command line", option, rule))
}

fn parse_fusion(list: &str) -> Result<Fusion, Error> {
    let mut fusion = Fusion::default();
    for item in list.split(',').map(str::trim) {
        match item {
            "none" | "" => {}
            "gemm-act" => fusion.gemm_activation = true,
            "qkv" => fusion.qkv = true,
            "attention" => fusion.attention = true,
            "all" => {
                fusion = Fusion {
                    gemm_activation: true,
                    qkv: true,
                    attention: true,
                }
            }
            other => {
                return Err(option_error(
                    "--fuse",
                    format!(
                        "unknown fusion `{other}` (expected gemm-act, qkv, attention, all or none)"
                    ),
                ));
            }
        }
    }
    Ok(fusion)
}

fn parse_precisions(values: &[String]) -> Result<Vec<PrecisionPair>, Error> {
    if values.is_empty() {
        return Ok(pipeline::default_precisions());
    }
    let mut precisions = Vec::new();
    for text in values.iter().flat_map(|value| value.split(',')) {
        let precision: PrecisionPair = text
            .trim()
            .parse()
            .map_err(|rule| option_error("--precision", rule))?;
        if !precisions.contains(&precision) {
            precisions.push(precision);
        }
    }
    Ok(precisions)
}

fn source(path: Option<&Path>, name: &str, built_in: &str) -> Result<Source, Error> {
    Ok(match path {
        Some(path) => Source::from_path(path)?,
        None => Source::built_in(name, built_in),
    })
}

fn run_roofline(args: &RooflineArgs) -> Result<(), Error> {
    let inputs = &args.inputs;
    let model = load_model(&source(
        inputs.model.as_deref(),
        "smolvlm2-500m-video-instruct.config.json",
        model::DEFAULT_MODEL,
    )?)?;
    let policy = match (&inputs.policy, &inputs.model) {
        (Some(path), _) => Some(load_policy(&Source::from_path(path)?)?),
        (None, None) => Some(model::default_policy()),
        // A user's own model gets no smolVLA prefix unless they give a policy too.
        (None, Some(_)) => None,
    };
    let platform = load_platform(&source(
        inputs.platform.as_deref(),
        "u280.toml",
        platform::DEFAULT_PLATFORM,
    )?)?;
    let choices = WorkloadChoices {
        cameras: inputs.cameras,
        language_tokens: inputs.language_tokens,
        state_tokens: inputs.state_tokens,
        batch: inputs.batch,
        text_layers: inputs.text_layers,
        fusion: parse_fusion(&inputs.fuse)?,
    };
    let precisions = parse_precisions(&args.precision)?;
    let output = pipeline::roofline(&model, policy.as_ref(), &platform, &choices, &precisions)?;
    write_all(&args.out, &output.files)?;
    print_stdout(&output.text);
    for (name, _) in &output.files {
        eprintln!("wrote {}", args.out.join(name).display());
    }
    Ok(())
}

/// Prints to stdout; a reader that closed the pipe early is not an error.
fn print_stdout(text: &str) {
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: stdout: {error}");
        std::process::exit(1);
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Roofline(args) => run_roofline(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let code = if error.is_user_error() { 2 } else { 1 };
            eprintln!("error: {error}");
            ExitCode::from(code)
        }
    }
}
