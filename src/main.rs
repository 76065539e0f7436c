//! `roofsim`: the command line over the roofsim library.
//!
//! Exit codes: 0 success (also when stdout is closed early), 1 internal or I/O failure,
//! 2 bad input (arguments, config files, workload options).

use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use roofsim::config::design::{Dataflow, Design, MemoryModel};
use roofsim::config::model::{ModelSpec, PolicySpec};
use roofsim::config::platform::Platform;
use roofsim::config::precision::PrecisionPair;
use roofsim::config::{ConfigError, Source, dimensions};
use roofsim::lower::to_dot;
use roofsim::pipeline::{self, Error, MergeInput, ModelInputs, SweepOptions};
use roofsim::report::write_all;
use roofsim::report::{self, ReportError};
use roofsim::sim::{DEFAULT_MAX_EVENTS, TraceSink};
use roofsim::sweep::{SweepInputs, SweepMeta};
use roofsim::trace::{ChromeTrace, CsvTrace, TraceFile};
use roofsim::workload::WorkloadChoices;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "roofsim",
    version,
    about = "Roofline analysis and cycle-level simulation of transformer encoders on FPGAs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Every kernel of the encoders under the platform's roofline, at each precision.
    Roofline(RooflineArgs),
    /// Lower the encoders onto a design and simulate them cycle by cycle.
    Simulate(SimulateArgs),
    /// Write one kernel's tile dataflow graph as Graphviz DOT.
    Lower(LowerArgs),
    /// Explore a design space in parallel: sweep.csv, pareto.svg, best.toml.
    Sweep(SweepArgs),
    /// Join the shards of one sweep (each folder's sweep.csv and sweep.meta.json) into one
    /// folder: sweep.csv, pareto.svg, best.toml, as a single run writes them.
    Merge {
        /// Output folder
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Shard files (sweep.csv of each shard)
        #[arg(required = true, value_name = "FILE")]
        inputs: Vec<PathBuf>,
    },
    /// Measure the HBM channel model with streaming reads across burst sizes.
    Probe {
        /// What to probe: `hbm`
        #[arg(value_parser = ["hbm"])]
        target: String,
        #[command(flatten)]
        design: DesignArgs,
    },
}

#[derive(Args)]
struct DesignArgs {
    /// Design TOML [default: built-in configs/designs/u280-int8.toml]
    #[arg(long, value_name = "FILE")]
    design: Option<PathBuf>,
    /// Platform TOML [default: built-in AMD Alveo U280]
    #[arg(long, value_name = "FILE")]
    platform: Option<PathBuf>,
}

#[derive(Args)]
struct SimulateArgs {
    #[command(flatten)]
    inputs: InputArgs,
    /// Design TOML [default: built-in configs/designs/u280-int8.toml]
    #[arg(long, value_name = "FILE")]
    design: Option<PathBuf>,
    /// Also write a trace of every executed node, streamed as the simulation runs
    #[arg(long)]
    trace: bool,
    /// Trace format: csv (trace.csv) or chrome (trace.json, for Perfetto or chrome://tracing)
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = TraceFormat::Csv)]
    trace_format: TraceFormat,
    /// Simulate one GEMM MxNxK (output M x N, reduction K) on one array instead of the model
    #[arg(long, value_name = "MxNxK")]
    gemm: Option<String>,
    /// With --gemm: array shape RxC [default: the design's]
    #[arg(long, value_name = "RxC", requires = "gemm")]
    array: Option<String>,
    /// With --gemm: dataflow os, ws or is [default: the design's]
    #[arg(long, value_name = "D", requires = "gemm")]
    dataflow: Option<String>,
    /// Unlimited bandwidth and zero latency (with --gemm, the GEMM is also one tile)
    #[arg(long)]
    ideal_memory: bool,
    /// Simulate only these kernels of each layer, comma-separated names or encoder/name
    /// (as the tables print them: the names follow the design's fusion)
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    kernels: Vec<String>,
    /// Refuse runs whose distinct layers would take more events (graph nodes) than this
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_EVENTS)]
    max_events: u64,
    /// Output folder
    #[arg(long, value_name = "DIR", default_value = "traces/simulate")]
    out: PathBuf,
}

/// How `simulate --trace` writes its trace.
#[derive(Clone, Copy, ValueEnum)]
enum TraceFormat {
    Csv,
    Chrome,
}

impl TraceFormat {
    fn file_name(self) -> &'static str {
        match self {
            TraceFormat::Csv => "trace.csv",
            TraceFormat::Chrome => "trace.json",
        }
    }
}

#[derive(Args)]
struct SweepArgs {
    #[command(flatten)]
    inputs: InputArgs,
    /// Sweep TOML (configs/sweeps/...)
    #[arg(long, value_name = "FILE")]
    sweep: PathBuf,
    /// Worker threads [default: all cores]
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Keep the rows of an interrupted run and continue after them
    #[arg(long)]
    resume: bool,
    /// Run only the I-th of N disjoint slices of the points (0-based), e.g. 0/4
    #[arg(long, value_name = "I/N", default_value = "0/1")]
    shard: String,
    /// Rank all points analytically (roofline at the tiled OI under the array model) and
    /// simulate only the best K
    #[arg(long, value_name = "K")]
    prescreen: Option<usize>,
    /// Skip points whose kernels would take more events (graph nodes) than this
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_EVENTS)]
    max_events: u64,
    /// Output folder
    #[arg(long, value_name = "DIR", default_value = "traces/sweep")]
    out: PathBuf,
}

#[derive(Args)]
struct LowerArgs {
    #[command(flatten)]
    inputs: InputArgs,
    /// Design TOML [default: built-in configs/designs/u280-int8.toml]
    #[arg(long, value_name = "FILE")]
    design: Option<PathBuf>,
    /// Kernel as `encoder/name` (e.g. `text/qkv_proj`); the first layer's instance is lowered
    #[arg(long, value_name = "NAME")]
    kernel: String,
    /// Lower the kernel's whole layer as one graph, as overlap_kernels runs it
    #[arg(long)]
    layer: bool,
    /// DOT file to write
    #[arg(long, value_name = "FILE")]
    dot: PathBuf,
}

#[derive(Args)]
struct InputArgs {
    /// Hugging Face config.json of the model [default: built-in SmolVLM2-500M]
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// smolVLA policy config.json (cameras, text layers, language tokens), or `none` for the
    /// bare model [default: the built-in smolvla_base for a vision-language model, even one
    /// given with --model; none for a standalone vision or text model]. Every run prints which
    /// policy applies.
    #[arg(long, value_name = "FILE|none")]
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
    /// Vision layers to run, for focused runs [default: all of the model's, 12]
    #[arg(long, value_name = "N")]
    vision_layers: Option<u64>,
    /// Observations processed together (weights are read once per batch)
    #[arg(long, value_name = "N", default_value_t = 1)]
    batch: u64,
    /// Fused kernels, comma-separated: gemm-act, qkv, attention, all, none
    /// [default: none for roofline; the design's for simulate and lower]
    #[arg(long, value_name = "LIST")]
    fuse: Option<String>,
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

/// The most sweep worker threads: far beyond any useful count on a workstation, and a
/// bound on the threads and memory a typo can ask for.
const MAX_JOBS: usize = 256;

/// Bad command-line values, reported like config errors: one line, exit code 2.
fn option_error(option: &str, rule: String) -> Error {
    Error::Config(ConfigError::invalid("command line", option, rule))
}

/// The model, policy, platform and workload choices every job starts from.
struct Inputs {
    model: ModelSpec,
    policy: Option<PolicySpec>,
    platform: Platform,
    choices: WorkloadChoices,
}

/// The design, with `--fuse` overriding its fusion switches when given.
fn load_design_for(
    path: Option<&Path>,
    inputs: &InputArgs,
    loaded: &Inputs,
) -> Result<Design, Error> {
    let design = pipeline::design_or_default(path, &loaded.platform)?;
    if inputs.fuse.is_none() {
        return Ok(design);
    }
    let fusion = loaded.choices.fusion;
    Ok(design.modified(&loaded.platform, "--fuse", |raw| raw.fusion = fusion)?)
}

fn load_inputs(inputs: &InputArgs) -> Result<Inputs, Error> {
    let ModelInputs { model, policy } =
        pipeline::model_and_policy(inputs.model.as_deref(), inputs.policy.as_deref())?;
    let choices = WorkloadChoices {
        cameras: inputs.cameras,
        language_tokens: inputs.language_tokens,
        state_tokens: inputs.state_tokens,
        batch: inputs.batch,
        text_layers: inputs.text_layers,
        vision_layers: inputs.vision_layers,
        kernels: Vec::new(),
        fusion: inputs
            .fuse
            .as_deref()
            .unwrap_or("none")
            .parse()
            .map_err(|rule| option_error("--fuse", rule))?,
    };
    Ok(Inputs {
        model,
        policy,
        platform: pipeline::platform_or_default(inputs.platform.as_deref())?,
        choices,
    })
}

fn run_roofline(args: &RooflineArgs) -> Result<(), Error> {
    let Inputs {
        model,
        policy,
        platform,
        choices,
    } = load_inputs(&args.inputs)?;
    let precisions = if args.precision.is_empty() {
        pipeline::default_precisions()
    } else {
        PrecisionPair::parse_list(&args.precision)
            .map_err(|rule| option_error("--precision", rule))?
    };
    let output = pipeline::roofline(&model, policy.as_ref(), &platform, &choices, &precisions)?;
    report::remove_partials(&args.out)?;
    write_all(&args.out, &output.files)?;
    print_stdout(&output.text);
    for (name, _) in &output.files {
        eprintln!("wrote {}", args.out.join(name).display());
    }
    Ok(())
}

fn run_simulate(args: &SimulateArgs) -> Result<(), Error> {
    let mut inputs = load_inputs(&args.inputs)?;
    inputs.choices.kernels = args.kernels.clone();
    let mut design = load_design_for(args.design.as_deref(), &args.inputs, &inputs)?;
    if args.ideal_memory {
        design = design.modified(&inputs.platform, "--ideal-memory", |raw| {
            raw.memory = MemoryModel::Ideal
        })?;
    }
    // Everything is validated before anything touches the output folder.
    let job = match &args.gemm {
        Some(gemm) => {
            let [m, n, k] = dimensions::<3>(gemm).map_err(|rule| option_error("--gemm", rule))?;
            let array = match &args.array {
                Some(text) => Some(
                    dimensions::<2>(text)
                        .map_err(|rule| option_error("--array", rule))?
                        .into(),
                ),
                None => None,
            };
            let mut single =
                design.single_array(&inputs.platform, array, args.ideal_memory, (m, n, k))?;
            if let Some(dataflow) = &args.dataflow {
                let dataflow = dataflow
                    .parse::<Dataflow>()
                    .map_err(|rule| option_error("--dataflow", rule))?;
                single = single.modified(&inputs.platform, "--dataflow", |raw| {
                    raw.arrays.dataflow = dataflow
                })?;
            }
            SimulationJob::Gemm((m, n, k), Box::new(single))
        }
        None => SimulationJob::Model(pipeline::design_workload(
            &inputs.model,
            inputs.policy.as_ref(),
            &inputs.platform,
            &design,
            &inputs.choices,
        )?),
    };
    report::remove_partials(&args.out)?;
    let partial = args
        .out
        .join(format!(".{}.partial", args.trace_format.file_name()));
    let clock_hz = match &job {
        SimulationJob::Gemm(_, single) => single.clock_hz(),
        SimulationJob::Model(_) => design.clock_hz(),
    };
    let mut trace: Option<Box<dyn TraceFile>> = if args.trace {
        std::fs::create_dir_all(&args.out).map_err(ReportError::io(&args.out))?;
        let file = std::fs::File::create(&partial).map_err(ReportError::io(&partial))?;
        let writer = std::io::BufWriter::new(file);
        Some(match args.trace_format {
            TraceFormat::Chrome => {
                Box::new(ChromeTrace::new(writer, clock_hz, roofsim::trace::COVERAGE))
            }
            TraceFormat::Csv => Box::new(CsvTrace::new(writer)),
        })
    } else {
        None
    };
    let sink = trace.as_mut().map(|t| t.as_mut() as &mut dyn TraceSink);
    let result = match job {
        SimulationJob::Gemm(gemm, single) => {
            pipeline::simulate_gemm(gemm, &inputs.platform, &single, sink)
        }
        SimulationJob::Model(analysis) => {
            let progress = progress_bar();
            let result = pipeline::simulate(
                analysis,
                &inputs.platform,
                &design,
                args.max_events,
                sink,
                &|| progress.inc(1),
            );
            progress.finish_and_clear();
            result
        }
    };
    let finished = result.and_then(|output| {
        if let Some(trace) = trace {
            trace.finish().map_err(ReportError::io(&partial))?;
        }
        Ok(output)
    });
    let output = match finished {
        Ok(output) => output,
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            return Err(error);
        }
    };
    write_all(&args.out, &output.files)?;
    // The trace goes in under its name last, once everything else is written.
    if args.trace {
        let path = args.out.join(args.trace_format.file_name());
        std::fs::rename(&partial, &path).map_err(ReportError::io(&path))?;
        eprintln!("wrote {}", path.display());
    }
    print_stdout(&output.text);
    for (name, _) in &output.files {
        eprintln!("wrote {}", args.out.join(name).display());
    }
    Ok(())
}

/// What `simulate` runs: one GEMM on one array, or the model's encoders.
enum SimulationJob {
    Gemm((u64, u64, u64), Box<Design>),
    Model(roofsim::roofline::RooflineAnalysis),
}

/// A bar on a terminal; nothing when stderr is piped.
fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_message("simulating distinct layers");
    bar
}

fn run_lower(args: &LowerArgs) -> Result<(), Error> {
    let inputs = load_inputs(&args.inputs)?;
    let design = load_design_for(args.design.as_deref(), &args.inputs, &inputs)?;
    let graph = pipeline::lower_kernel(
        &inputs.model,
        inputs.policy.as_ref(),
        &inputs.platform,
        &design,
        &inputs.choices,
        &args.kernel,
        args.layer,
    )?;
    let dir = args
        .dot
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = args
        .dot
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| option_error("--dot", "needs a file name".to_string()))?;
    write_all(dir, &[(name, to_dot(&graph, &design).into_bytes())])?;
    eprintln!(
        "wrote {} ({} nodes, {} edges, {} bytes moved by the tiling)",
        args.dot.display(),
        graph.graph.node_count(),
        graph.graph.edge_count(),
        graph.totals().bytes_tiled
    );
    Ok(())
}

fn run_sweep(args: &SweepArgs) -> Result<(), Error> {
    if args.inputs.fuse.is_some() {
        return Err(option_error(
            "--fuse",
            "a sweep takes fusion from its base design and its `fusion` axis".into(),
        ));
    }
    let inputs = load_inputs(&args.inputs)?;
    let spec = pipeline::sweep_file(&args.sweep)?;
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
    let jobs = match args.jobs {
        Some(jobs) if !(1..=MAX_JOBS).contains(&jobs) => {
            return Err(option_error(
                "--jobs",
                format!("must be between 1 and {MAX_JOBS}, found {jobs}"),
            ));
        }
        Some(jobs) => jobs,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    if args.prescreen == Some(0) {
        return Err(option_error("--prescreen", "must be at least 1".into()));
    }
    let sweep_inputs = SweepInputs {
        spec: &spec,
        choices: &inputs.choices,
        model: &inputs.model,
        policy: inputs.policy.as_ref(),
        platform: &inputs.platform,
        max_events: args.max_events,
    };
    let options = SweepOptions {
        jobs,
        shard,
        prescreen: args.prescreen,
        resume: args.resume,
    };
    report::remove_partials(&args.out)?;
    let csv = args.out.join("sweep.csv");
    // Rows are flushed whole as they finish: an interrupted sweep resumes where it stopped.
    let _ = ctrlc::set_handler(move || {
        eprintln!(
            "\ninterrupted: the finished points are in {}; run the same command with --resume \
             to continue",
            csv.display()
        );
        std::process::exit(130);
    });
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
    print_stdout(&outcome.summary);
    for name in outcome.written {
        eprintln!("wrote {}", args.out.join(name).display());
    }
    Ok(())
}

fn run_merge(out: &Path, inputs: &[PathBuf]) -> Result<(), Error> {
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
    report::remove_partials(out)?;
    let outcome = pipeline::merge(&shards, out)?;
    print_stdout(&outcome.summary);
    for name in outcome.written {
        eprintln!("wrote {}", out.join(name).display());
    }
    Ok(())
}

fn run_probe(args: &DesignArgs) -> Result<(), Error> {
    let platform = pipeline::platform_or_default(args.platform.as_deref())?;
    let design = pipeline::design_or_default(args.design.as_deref(), &platform)?;
    print_stdout(&pipeline::probe_hbm(&platform, &design));
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
        Command::Simulate(args) => run_simulate(args),
        Command::Lower(args) => run_lower(args),
        Command::Sweep(args) => run_sweep(args),
        Command::Merge { out, inputs } => run_merge(out, inputs),
        Command::Probe { design, .. } => run_probe(design),
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
