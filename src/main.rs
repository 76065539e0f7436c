//! `roofsim`: the command line over the roofsim library.
//!
//! Exit codes: 0 success (also when stdout is closed early), 1 internal or I/O failure,
//! 2 bad input (arguments, config files, workload options).

use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use roofsim::config::design::{self, Dataflow, Design, MemoryModel, load_design, parse_design};
use roofsim::config::model::{self, ModelSpec, PolicySpec, load_model, load_policy};
use roofsim::config::platform::Platform;
use roofsim::config::platform::{self, load_platform};
use roofsim::config::precision::PrecisionPair;
use roofsim::config::{ConfigError, Source, did_you_mean};
use roofsim::lower::{lower, to_dot};
use roofsim::pipeline::{self, Error, MergeInput, SweepOptions};
use roofsim::report::write_all;
use roofsim::report::{self, ReportError};
use roofsim::sim::hbm::{ChannelTiming, probe_bandwidth_bytes_per_s};
use roofsim::sim::{DEFAULT_MAX_EVENTS, TraceSink};
use roofsim::sweep::{SweepInputs, SweepMeta, load_sweep};
use roofsim::trace::{ChromeTrace, CsvTrace, TraceFile};
use roofsim::workload::WorkloadChoices;
use roofsim::workload::build_workload;
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

/// The model, policy, platform and workload choices every job starts from.
struct Inputs {
    model: ModelSpec,
    policy: Option<PolicySpec>,
    platform: Platform,
    choices: WorkloadChoices,
}

fn load_platform_arg(path: Option<&Path>) -> Result<Platform, Error> {
    Ok(load_platform(&source(
        path,
        "u280.toml",
        platform::DEFAULT_PLATFORM,
    )?)?)
}

fn load_design_arg(path: Option<&Path>, platform: &Platform) -> Result<Design, Error> {
    Ok(load_design(
        &source(path, "u280-int8.toml", design::DEFAULT_DESIGN)?,
        platform,
    )?)
}

/// The design, with `--fuse` overriding its fusion switches when given.
fn load_design_for(
    path: Option<&Path>,
    inputs: &InputArgs,
    loaded: &Inputs,
) -> Result<Design, Error> {
    let design = load_design_arg(path, &loaded.platform)?;
    if inputs.fuse.is_none() {
        return Ok(design);
    }
    let fusion = loaded.choices.fusion;
    Ok(design.modified(&loaded.platform, "--fuse", |raw| raw.fusion = fusion)?)
}

fn load_inputs(inputs: &InputArgs) -> Result<Inputs, Error> {
    let model = load_model(&source(
        inputs.model.as_deref(),
        "smolvlm2-500m-video-instruct.config.json",
        model::DEFAULT_MODEL,
    )?)?;
    let policy = match inputs.policy.as_deref() {
        Some(path) if path == Path::new("none") => None,
        Some(path) => Some(load_policy(&Source::from_path(path)?)?),
        // A vision-language model runs as smolVLA does unless told otherwise; a standalone
        // vision or text model runs bare.
        None if model.vision.is_some() && model.text.is_some() => Some(model::default_policy()),
        None => None,
    };
    let platform = load_platform_arg(inputs.platform.as_deref())?;
    let choices = WorkloadChoices {
        cameras: inputs.cameras,
        language_tokens: inputs.language_tokens,
        state_tokens: inputs.state_tokens,
        batch: inputs.batch,
        text_layers: inputs.text_layers,
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
        platform,
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
    let precisions = parse_precisions(&args.precision)?;
    let output = pipeline::roofline(&model, policy.as_ref(), &platform, &choices, &precisions)?;
    report::remove_partials(&args.out)?;
    write_all(&args.out, &output.files)?;
    print_stdout(&output.text);
    for (name, _) in &output.files {
        eprintln!("wrote {}", args.out.join(name).display());
    }
    Ok(())
}

/// Parses `AxBxC`-style dimensions.
fn dimensions<const N: usize>(option: &str, text: &str) -> Result<[u64; N], Error> {
    let values: Vec<u64> = text
        .split('x')
        .map(|part| part.trim().parse::<u64>().ok().filter(|&v| v > 0))
        .collect::<Option<_>>()
        .unwrap_or_default();
    values.try_into().map_err(|_| {
        let shape = vec!["N"; N].join("x");
        option_error(
            option,
            format!("expected {shape} with positive whole numbers, found `{text}`"),
        )
    })
}

fn run_simulate(args: &SimulateArgs) -> Result<(), Error> {
    let inputs = load_inputs(&args.inputs)?;
    let mut design = load_design_for(args.design.as_deref(), &args.inputs, &inputs)?;
    if args.ideal_memory {
        design = design.modified(&inputs.platform, "--ideal-memory", |raw| {
            raw.memory = MemoryModel::Ideal
        })?;
    }
    // Everything is validated before anything touches the output folder.
    let job = match &args.gemm {
        Some(gemm) => {
            let [m, n, k] = dimensions::<3>("--gemm", gemm)?;
            let array = match &args.array {
                Some(text) => Some(dimensions::<2>("--array", text)?.into()),
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
        std::fs::create_dir_all(&args.out).map_err(|source| io_error(&args.out, source))?;
        let file = std::fs::File::create(&partial).map_err(|source| io_error(&partial, source))?;
        let writer = std::io::BufWriter::new(file);
        Some(match args.trace_format {
            TraceFormat::Chrome => Box::new(ChromeTrace::new(writer, clock_hz, TRACE_COVERS)),
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
            trace
                .finish()
                .map_err(|source| io_error(&partial, source))?;
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
        std::fs::rename(&partial, &path).map_err(|source| io_error(&path, source))?;
        eprintln!("wrote {}", path.display());
    }
    print_stdout(&output.text);
    for (name, _) in &output.files {
        eprintln!("wrote {}", args.out.join(name).display());
    }
    Ok(())
}

/// What a trace holds, as its metadata says.
const TRACE_COVERS: &str = "roofsim: identical layers are simulated once, so this trace holds \
    the first instance of each distinct layer (and the kernels outside layers), kernels laid \
    end to end in execution order; the other layers repeat the one they equal";

/// What `simulate` runs: one GEMM on one array, or the model's encoders.
enum SimulationJob {
    Gemm((u64, u64, u64), Box<Design>),
    Model(roofsim::roofline::RooflineAnalysis),
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Report(ReportError::Io {
        path: path.to_path_buf(),
        source,
    })
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
    let choices = WorkloadChoices {
        fusion: design.fusion(),
        ..inputs.choices.clone()
    };
    let options = choices.options(&inputs.model, inputs.policy.as_ref(), design.precision());
    let workload = build_workload(&inputs.model, &options)?;
    let kernel = workload
        .kernels
        .iter()
        .find(|k| format!("{}/{}", k.encoder, k.name) == args.kernel || k.name == args.kernel)
        .ok_or_else(|| {
            let mut names: Vec<String> = Vec::new();
            for k in &workload.kernels {
                let name = format!("{}/{}", k.encoder, k.name);
                if !names.contains(&name) {
                    names.push(name);
                }
            }
            option_error(
                "--kernel",
                format!(
                    "no kernel `{}` with fusion {}{}",
                    args.kernel,
                    design.fusion(),
                    did_you_mean(&args.kernel, &names)
                ),
            )
        })?;
    let graph = lower(kernel, &design)?;
    let dot = to_dot(&graph);
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
    write_all(dir, &[(name, dot.into_bytes())])?;
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
    let source = Source::from_path(&args.sweep)?;
    let sweep_dir = args.sweep.parent().unwrap_or(Path::new(".")).to_path_buf();
    let spec = load_sweep(&source, |base| match base {
        Some(relative) => {
            let source = Source::from_path(&sweep_dir.join(relative))?;
            Ok((parse_design(&source)?, source.name))
        }
        None => {
            let source = Source::built_in("u280-int8.toml", design::DEFAULT_DESIGN);
            Ok((parse_design(&source)?, source.name))
        }
    })?;
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
    let platform = load_platform_arg(args.platform.as_deref())?;
    let design = load_design_arg(args.design.as_deref(), &platform)?;
    let timing = ChannelTiming::new(&platform, &design);
    let mut text = format!(
        "HBM channel model: {} channels, {:.3} GB/s peak each, latency {:.0} ns, {} outstanding\n",
        platform.hbm.channels,
        platform.hbm.channel_bandwidth_bytes_per_s / 1e9,
        platform.hbm.access_latency_s * 1e9,
        design.placement().outstanding_requests
    );
    text.push_str("burst_bytes  one_channel_gb_per_s  all_channels_gb_per_s\n");
    for burst in [32, 64, 128, 256, 512, 1024, 2048, 4096, 8192] {
        let total = 64 << 20;
        let one = probe_bandwidth_bytes_per_s(&timing, design.clock_hz(), 1, burst, total);
        let all = probe_bandwidth_bytes_per_s(
            &timing,
            design.clock_hz(),
            platform.hbm.channels,
            burst,
            total,
        );
        text.push_str(&format!(
            "{burst:>11}  {:>20.2}  {:>21.1}\n",
            one / 1e9,
            all / 1e9
        ));
    }
    print_stdout(&text);
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
