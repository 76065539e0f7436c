//! The command line as a library: its options (clap) and the jobs they run, shared by the
//! `roofsim` binary and the Python package, so both take the same options, validate them the
//! same way and fail with the same one-line errors.
//!
//! A job returns what to print and which files it wrote; printing, progress on a terminal and
//! exit codes belong to the caller.

mod out;
mod probe;
mod run;
mod spaces;

pub use run::{Ran, run};

use crate::config::ConfigError;
use crate::pipeline::Error;
use crate::sim::DEFAULT_MAX_EVENTS;
use crate::sim::probe::{Pattern, ProbeMemory};
use clap::error::ContextKind;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// The command line: one subcommand.
#[derive(Debug, Parser)]
#[command(
    name = "roofsim",
    version,
    about = "Roofline analysis and cycle-level simulation of transformer encoders on FPGAs"
)]
pub struct Cli {
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses `args` (without the program name) as the command line does, for callers that
    /// are not the binary: a bad option is a one-line error naming it, not clap's paragraph.
    pub fn try_from_args(args: impl IntoIterator<Item = String>) -> Result<Cli, Error> {
        let program = std::iter::once("roofsim".to_string());
        Cli::try_parse_from(program.chain(args)).map_err(|error| {
            let field = error
                .get(ContextKind::InvalidArg)
                .map_or_else(|| "arguments".to_string(), ToString::to_string);
            let text = error.to_string();
            let rule = text.lines().next().unwrap_or_default();
            Error::Config(ConfigError::invalid(
                "command line",
                field,
                rule.trim_start_matches("error: "),
            ))
        })
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The whole analysis in one folder: the roofline at each precision, the simulation of
    /// the design, their cross-check and report.html.
    Analyze(AnalyzeArgs),
    /// Every kernel of the encoders under the platform's roofline, at each precision.
    Roofline(RooflineArgs),
    /// Lower the encoders onto a design and simulate them cycle by cycle.
    Simulate(SimulateArgs),
    /// Write one kernel's tile dataflow graph as Graphviz DOT.
    Lower(LowerArgs),
    /// Explore a design space in parallel: sweep.csv, pareto.svg, best.toml.
    Sweep(SweepArgs),
    /// Search a design space (a sweep file's axes, however many points they span) for the
    /// best design within a budget of simulations: search.csv, best.toml, pareto.svg, and how
    /// far the best is from the DSP-bound limit.
    Search(SearchArgs),
    /// Run a system of several boards (a system TOML: boards, partition, links) on the
    /// workload: each board's part simulated on its design, observations sent through the
    /// boards and links: boards.csv, links.csv.
    System(SystemArgs),
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
    /// Benchmark an HBM model like Shuhai: bandwidth and latency per access pattern, burst
    /// size, channels, outstanding requests, writes and switch distance: probe.csv, probe.svg.
    Probe(ProbeArgs),
    /// The designs, models, policies, platforms and sweeps that ship inside roofsim, which
    /// every option taking a file also takes by name (`--design u280-int4`).
    List,
}

/// `roofsim probe`'s options.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// What to probe: `hbm`
    #[arg(value_parser = ["hbm"])]
    pub target: String,
    /// The design and platform whose memory is probed.
    #[command(flatten)]
    pub design: DesignArgs,
    /// HBM model [default: the design's: dram when it says `memory = "dram"`, else fast]
    #[arg(long, value_enum)]
    pub memory: Option<ProbeMemory>,
    /// Access pattern [default: sequential and strided, then the design's own layout
    /// (striped over its weight channels in its bursts)]
    #[arg(long, value_enum)]
    pub pattern: Option<Pattern>,
    /// Bytes per request, 32 to 512 in steps of 32 [default: 32, 64, 128, 256, 512]
    #[arg(long, value_name = "B")]
    pub burst_bytes: Option<u64>,
    /// Distance between consecutive requests of the strided pattern [default: 4096, or the
    /// working set when that is smaller]
    #[arg(long, value_name = "S")]
    pub stride_bytes: Option<u64>,
    /// Address range of each channel the requests stay in (at most a pseudo-channel)
    #[arg(long, value_name = "W", default_value_t = 256 << 20)]
    pub working_set_bytes: u64,
    /// Channels probed at once, one requester each [default: 1 and all]
    #[arg(long, value_name = "N")]
    pub channels: Option<u64>,
    /// Requests each requester keeps in flight [default: the design's]
    #[arg(long, value_name = "O")]
    pub outstanding: Option<u64>,
    /// Share of requests that are writes, 0 to 1
    #[arg(long, value_name = "F", default_value_t = 0.0)]
    pub write_share: f64,
    /// Mini-switches between each requester's port and its channel
    #[arg(long, value_name = "D", default_value_t = 0)]
    pub switch_distance: u64,
    /// Requesters are HLS m_axi adapters (their round trip, HBM Connect); bank model only
    #[arg(long)]
    pub hls: bool,
    /// Print the bank model's idle read latency for a page hit, a closed page and a miss
    #[arg(long)]
    pub idle_latency: bool,
    /// Output folder
    #[arg(long, value_name = "DIR", default_value = "traces/probe")]
    pub out: PathBuf,
}

/// A design and platform given as files or shipped names.
#[derive(Debug, Args)]
pub struct DesignArgs {
    /// Design TOML [default: built-in configs/designs/u280-int8.toml]
    #[arg(long, value_name = "FILE")]
    pub design: Option<PathBuf>,
    /// Platform TOML [default: built-in AMD Alveo U280]
    #[arg(long, value_name = "FILE")]
    pub platform: Option<PathBuf>,
}

/// `roofsim simulate`'s options.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The model, policy, platform and workload.
    #[command(flatten)]
    pub inputs: InputArgs,
    /// Design TOML [default: built-in configs/designs/u280-int8.toml]
    #[arg(long, value_name = "FILE")]
    pub design: Option<PathBuf>,
    /// Also write a trace of every executed node, streamed as the simulation runs
    #[arg(long)]
    pub trace: bool,
    /// Trace format, with --trace: csv (trace.csv) or chrome (trace.json, for Perfetto or
    /// chrome://tracing) [default: csv]
    #[arg(long, value_name = "FORMAT", value_enum)]
    pub trace_format: Option<TraceFormat>,
    /// Simulate one GEMM MxNxK (output M x N, reduction K) on one array instead of the model
    #[arg(long, value_name = "MxNxK")]
    pub gemm: Option<String>,
    /// With --gemm: array shape RxC [default: the design's]
    #[arg(long, value_name = "RxC", requires = "gemm")]
    pub array: Option<String>,
    /// With --gemm: dataflow os, ws or is [default: the design's]
    #[arg(long, value_name = "D", requires = "gemm")]
    pub dataflow: Option<String>,
    /// Unlimited bandwidth and zero latency (with --gemm, the GEMM is also one tile)
    #[arg(long)]
    pub ideal_memory: bool,
    /// Simulate at the clock the design can be expected to close at (the summary's `clock:`
    /// line) when it is lower than the one the design states
    #[arg(long)]
    pub clock_from_model: bool,
    /// Simulate only these kernels of each layer, comma-separated names or encoder/name
    /// (as the tables print them: the names follow the design's fusion)
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub kernels: Vec<String>,
    /// Refuse runs whose distinct layers would take more events (graph nodes) than this
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_EVENTS)]
    pub max_events: u64,
    /// Output folder
    #[arg(long, value_name = "DIR", default_value = "traces/simulate")]
    pub out: PathBuf,
}

/// How `simulate --trace` writes its trace.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TraceFormat {
    /// A CSV file, a row per executed node.
    Csv,
    /// Chrome's trace event format (Perfetto, chrome://tracing).
    Chrome,
}

impl TraceFormat {
    /// The file the trace is written to.
    pub fn file_name(self) -> &'static str {
        match self {
            TraceFormat::Csv => "trace.csv",
            TraceFormat::Chrome => "trace.json",
        }
    }
}

/// `roofsim sweep`'s options.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// The model, policy, platform and workload.
    #[command(flatten)]
    pub inputs: InputArgs,
    /// Sweep TOML (configs/sweeps/...)
    #[arg(long, value_name = "FILE")]
    pub sweep: PathBuf,
    /// Worker threads [default: all cores]
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Keep the rows of an interrupted run and continue after them
    #[arg(long)]
    pub resume: bool,
    /// Run only the I-th of N disjoint slices of the points (0-based), e.g. 0/4
    #[arg(long, value_name = "I/N", default_value = "0/1")]
    pub shard: String,
    /// Rank all points analytically (roofline at the tiled OI under the array model) and
    /// simulate only the best K
    #[arg(long, value_name = "K")]
    pub prescreen: Option<usize>,
    /// Run the K fastest points of the Pareto front again on the bank-level HBM
    /// (`memory = "dram"`) and report how latency and ranking move (verify.csv)
    #[arg(long, value_name = "K")]
    pub verify: Option<usize>,
    /// Skip points whose kernels would take more events (graph nodes) than this
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_EVENTS)]
    pub max_events: u64,
    /// Output folder
    #[arg(long, value_name = "DIR", default_value = "traces/sweep")]
    pub out: PathBuf,
}

/// `roofsim search`'s options.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The model, policy, platform and workload.
    #[command(flatten)]
    pub inputs: InputArgs,
    /// The space: a sweep TOML (configs/sweeps/...), its axes and constraints
    #[arg(long, value_name = "FILE")]
    pub space: PathBuf,
    /// Designs to simulate (analytical rankings are not counted)
    #[arg(long, value_name = "N", default_value_t = 96)]
    pub budget: u64,
    /// Seed of the search's random draws: the same seed gives the same search
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Pin an axis of the space to one of its values, e.g. `--fix precision=int8`; repeat or
    /// comma-separate for several
    #[arg(long, value_name = "AXIS=VALUE", value_delimiter = ',')]
    pub fix: Vec<String>,
    /// What to minimise: latency (ms per step), throughput (ms per observation) or energy
    /// (mJ per observation, the middle of the power model's range)
    #[arg(long, value_enum, default_value = "latency")]
    pub objective: crate::pipeline::Objective,
    /// Worker threads [default: all cores]
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Keep the rows of an interrupted search and continue after them
    #[arg(long)]
    pub resume: bool,
    /// Skip designs whose kernels would take more events (graph nodes) than this
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_EVENTS)]
    pub max_events: u64,
    /// Output folder
    #[arg(long, value_name = "DIR", default_value = "traces/search")]
    pub out: PathBuf,
}

/// `roofsim system`'s options.
#[derive(Debug, Args)]
pub struct SystemArgs {
    /// The model, policy and workload.
    #[command(flatten)]
    pub inputs: InputArgs,
    /// System TOML (configs/systems/...)
    #[arg(long, value_name = "FILE")]
    pub system: PathBuf,
    /// Board counts to run a data or tensor partition at, its first board repeated
    /// (comma-separated, e.g. 1,2,4,8): the scaling curve, scaling.csv
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub boards: Vec<usize>,
    /// Refuse boards whose distinct layers would take more events (graph nodes) than this
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_EVENTS)]
    pub max_events: u64,
    /// Output folder
    #[arg(long, value_name = "DIR", default_value = "traces/system")]
    pub out: PathBuf,
}

/// `roofsim lower`'s options.
#[derive(Debug, Args)]
pub struct LowerArgs {
    /// The model, policy, platform and workload.
    #[command(flatten)]
    pub inputs: InputArgs,
    /// Design TOML [default: built-in configs/designs/u280-int8.toml]
    #[arg(long, value_name = "FILE")]
    pub design: Option<PathBuf>,
    /// Kernel as `encoder/name` (e.g. `text/qkv_proj`); the first layer's instance is lowered
    #[arg(long, value_name = "NAME")]
    pub kernel: String,
    /// Lower the kernel's whole layer as one graph, as overlap_kernels runs it
    #[arg(long)]
    pub layer: bool,
    /// DOT file to write
    #[arg(long, value_name = "FILE")]
    pub dot: PathBuf,
}

/// The model, policy, platform and workload options every job shares.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// Hugging Face config.json of the model [default: built-in SmolVLM2-500M]
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// smolVLA policy config.json (cameras, text layers, language tokens), or `none` for the
    /// bare model [default: the built-in smolvla_base for a vision-language model, even one
    /// given with --model; none for a standalone vision or text model]. Every run prints which
    /// policy applies.
    #[arg(long, value_name = "FILE|none")]
    pub policy: Option<PathBuf>,
    /// Platform TOML [default: built-in AMD Alveo U280]
    #[arg(long, value_name = "FILE")]
    pub platform: Option<PathBuf>,
    /// Camera images per observation [default: the policy's, 3]
    #[arg(long, value_name = "N")]
    pub cameras: Option<u64>,
    /// Language tokens (padded) [default: the policy's, 48]
    #[arg(long, value_name = "N")]
    pub language_tokens: Option<u64>,
    /// State tokens [default: 1]
    #[arg(long, value_name = "N")]
    pub state_tokens: Option<u64>,
    /// Text layers to run [default: the policy's, 16]
    #[arg(long, value_name = "N")]
    pub text_layers: Option<u64>,
    /// Vision layers to run, for focused runs [default: all of the model's, 12]
    #[arg(long, value_name = "N")]
    pub vision_layers: Option<u64>,
    /// Observations processed together (weights are read once per batch)
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub batch: u64,
    /// Fused kernels, comma-separated: gemm-act, qkv, attention, all, none
    /// [default: none for roofline; the design's for simulate and lower]
    #[arg(long, value_name = "LIST")]
    pub fuse: Option<String>,
    /// What a step covers: `encoders` (the VLM's prefix) or `full` (observation in, action
    /// chunk out: also the state projection and the action expert over every flow-matching
    /// step; needs a smolVLA policy)
    #[arg(long, value_name = "P", default_value = "encoders")]
    pub pipeline: String,
    /// Full pipeline: project the cached prefix keys/values of the expert's cross-attention
    /// layers once per observation, not at every step as the reference code does
    #[arg(long)]
    pub cross_kv_once: bool,
    /// Full pipeline: of the last text layer compute only the keys and values the expert
    /// reads, as the reference code does not
    #[arg(long)]
    pub trim_last_text_layer: bool,
    /// Run the vision tower and connector once per camera, as the reference code does
    /// (each weight read once per camera) [default: all cameras' images as one batch]
    #[arg(long)]
    pub per_camera_vision: bool,
    /// Generate N tokens after the prefix, one at a time against the key/value cache
    /// (Llama-style, Qwen2 and GPT-2 text layers); reports time to first token and tokens/s
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub decode: u64,
    /// How the text layers take the prompt: `parallel` (every token's row at once) or
    /// `token-serial` (one token after another against the growing key/value cache, as DFX
    /// runs its prompts; decoder text models without a vision tower)
    #[arg(long, value_name = "P", default_value = "parallel")]
    pub prefill: String,
}

/// `roofsim roofline`'s options.
#[derive(Debug, Args)]
pub struct RooflineArgs {
    /// The model, policy, platform and workload.
    #[command(flatten)]
    pub inputs: InputArgs,
    /// Precision, `P` for weights and activations, `W/A` separately, or `W/A/KV` with the
    /// key/value cache's own (fp32, fp16, bf16, int8, int4); repeat or comma-separate for
    /// several; the first is tabled and plotted
    /// [default: int8,int4/int8,int4,fp16,bf16,fp32]
    #[arg(long, value_name = "P")]
    pub precision: Vec<String>,
    /// Output folder
    #[arg(long, value_name = "DIR", default_value = "traces/roofline")]
    pub out: PathBuf,
}

/// `roofsim analyze`'s options.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// The model, policy, platform and workload.
    #[command(flatten)]
    pub inputs: InputArgs,
    /// Design TOML [default: built-in configs/designs/u280-int8.toml]
    #[arg(long, value_name = "FILE")]
    pub design: Option<PathBuf>,
    /// Precisions of the roofline tables, as for `roofline`; the simulation runs the
    /// design's [default: int8,int4/int8,int4,fp16,bf16,fp32]
    #[arg(long, value_name = "P")]
    pub precision: Vec<String>,
    /// Simulate at the clock the design can be expected to close at (the summary's `clock:`
    /// line) when it is lower than the one the design states
    #[arg(long)]
    pub clock_from_model: bool,
    /// Refuse runs whose distinct layers would take more events (graph nodes) than this
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_EVENTS)]
    pub max_events: u64,
    /// Output folder
    #[arg(long, value_name = "DIR", default_value = "traces/analyze")]
    pub out: PathBuf,
}
