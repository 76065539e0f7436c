//! The jobs behind each command: validate every option, run, write the output folder whole.

use super::out::prepare_out;
use super::probe::run_probe;
use super::spaces::{run_merge, run_search, run_sweep, run_system};
use super::{AnalyzeArgs, Command, InputArgs, LowerArgs, RooflineArgs, SimulateArgs, TraceFormat};
use crate::config::design::clock::expected_clock;
use crate::config::design::{Dataflow, Design, MemoryModel};
use crate::config::model::{ModelSpec, PolicySpec};
use crate::config::platform::Platform;
use crate::config::precision::PrecisionPair;
use crate::config::{ConfigError, dimensions};
use crate::lower::Bill;
use crate::lower::to_dot;
use crate::pipeline::{self, Error, ModelInputs};
use crate::report::{self, ReportError, write_all};
use crate::sim::TraceSink;
use crate::sweep::{SweepInputs, SweepSpec};
use crate::trace::{ChromeTrace, CsvTrace, TraceFile};
use crate::workload::{ExpertSwitches, WorkloadChoices};
use indicatif::ProgressBar;
use std::path::{Path, PathBuf};

/// What a finished command has to say: the text for standard output and the files it
/// wrote, in order.
#[derive(Debug, Default)]
pub struct Ran {
    /// What the job prints.
    pub text: String,
    /// The files it wrote.
    pub written: Vec<PathBuf>,
}

impl Ran {
    pub(super) fn new(
        text: String,
        out: &Path,
        names: impl IntoIterator<Item = impl AsRef<Path>>,
    ) -> Ran {
        Ran {
            text,
            written: names.into_iter().map(|name| out.join(name)).collect(),
        }
    }
}

/// Runs one command. Progress bars draw on standard error when it is a terminal.
pub fn run(command: &Command) -> Result<Ran, Error> {
    match command {
        Command::Analyze(args) => run_analyze(args),
        Command::Roofline(args) => run_roofline(args),
        Command::Simulate(args) => run_simulate(args),
        Command::Lower(args) => run_lower(args),
        Command::Sweep(args) => run_sweep(args),
        Command::Search(args) => run_search(args),
        Command::System(args) => run_system(args),
        Command::Merge { out, inputs } => run_merge(out, inputs),
        Command::Probe(args) => run_probe(args),
        Command::List => Ok(Ran {
            text: list_shipped(),
            written: Vec::new(),
        }),
    }
}

/// `roofsim list`: each shipped config's name and what it is, kind by kind.
fn list_shipped() -> String {
    use crate::config::shipped::{Kind, Shipped};
    let mut text = String::new();
    for kind in Kind::ALL {
        text.push_str(kind.heading());
        text.push('\n');
        for shipped in Shipped::of(kind) {
            text.push_str(&format!("  {:<30} {}\n", shipped.name, shipped.summary()));
        }
    }
    text
}

/// The most sweep worker threads: far beyond any useful count on a workstation, and a
/// bound on the threads and memory a typo can ask for.
pub(super) const MAX_JOBS: usize = 256;

/// Bad command-line values, reported like config errors: one line, exit code 2.
pub(super) fn option_error(option: &str, rule: String) -> Error {
    Error::Config(ConfigError::invalid("command line", option, rule))
}

/// The model, policy, platform and workload choices every job starts from.
pub(super) struct Inputs {
    pub(super) model: ModelSpec,
    pub(super) policy: Option<PolicySpec>,
    pub(super) platform: Platform,
    pub(super) choices: WorkloadChoices,
}

impl Inputs {
    /// What the points of a sweep or search over `spec` start from.
    pub(super) fn for_points<'a>(
        &'a self,
        spec: &'a SweepSpec,
        max_events: u64,
    ) -> SweepInputs<'a> {
        SweepInputs {
            spec,
            choices: &self.choices,
            model: &self.model,
            policy: self.policy.as_ref(),
            platform: &self.platform,
            max_events,
        }
    }
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

/// With `--clock-from-model`, the design at the clock it can be expected to close at when
/// that is lower than the one it states (the rules only ever warn of too fast a clock),
/// counting the on-chip links of the workload it runs unless it runs a lone GEMM.
fn clock_from_model(
    design: Design,
    loaded: &Inputs,
    apply: bool,
    lone_gemm: bool,
) -> Result<Design, Error> {
    if !apply {
        return Ok(design);
    }
    let platform = &loaded.platform;
    let slrs = if lone_gemm {
        design.slr_use().to_vec()
    } else {
        let analysis = pipeline::design_workload(
            &loaded.model,
            loaded.policy.as_ref(),
            platform,
            &design,
            &loaded.choices,
        )?;
        Bill::of(&analysis.workload, &design, platform).slrs
    };
    let estimate = expected_clock(&design, platform, &slrs);
    if !estimate.is_optimistic() {
        return Ok(design);
    }
    let expected_mhz = estimate.expected_mhz;
    Ok(design.modified(platform, "--clock-from-model", |raw| {
        raw.clock_mhz = expected_mhz
    })?)
}

pub(super) fn load_inputs(inputs: &InputArgs) -> Result<Inputs, Error> {
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
        pipeline: inputs
            .pipeline
            .parse()
            .map_err(|rule| option_error("--pipeline", rule))?,
        switches: ExpertSwitches {
            cross_kv_once: inputs.cross_kv_once,
            trim_last_text_layer: inputs.trim_last_text_layer,
        },
        per_camera_vision: inputs.per_camera_vision,
        decode_tokens: inputs.decode,
        prefill: inputs
            .prefill
            .parse()
            .map_err(|rule| option_error("--prefill", rule))?,
    };
    Ok(Inputs {
        model,
        policy,
        platform: pipeline::platform_or_default(inputs.platform.as_deref())?,
        choices,
    })
}

/// The `--precision` values, or the default list when none is given.
fn precisions_or_default(values: &[String]) -> Result<Vec<PrecisionPair>, Error> {
    if values.is_empty() {
        return Ok(pipeline::default_precisions());
    }
    PrecisionPair::parse_list(values).map_err(|rule| option_error("--precision", rule))
}

fn run_roofline(args: &RooflineArgs) -> Result<Ran, Error> {
    let Inputs {
        model,
        policy,
        platform,
        choices,
    } = load_inputs(&args.inputs)?;
    let precisions = precisions_or_default(&args.precision)?;
    let output = pipeline::roofline(&model, policy.as_ref(), &platform, &choices, &precisions)?;
    let _lock = prepare_out(&args.out)?;
    write_all(&args.out, &output.files)?;
    let names = output.files.iter().map(|(name, _)| name);
    Ok(Ran::new(output.text, &args.out, names))
}

fn run_simulate(args: &SimulateArgs) -> Result<Ran, Error> {
    let mut inputs = load_inputs(&args.inputs)?;
    inputs.choices.kernels = args.kernels.clone();
    let design = load_design_for(args.design.as_deref(), &args.inputs, &inputs)?;
    let mut design = clock_from_model(design, &inputs, args.clock_from_model, args.gemm.is_some())?;
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
            // An idealised study leaves out memory and every on-chip limit: the array alone.
            let chip = if args.ideal_memory {
                inputs.platform.with_unbounded_chip()
            } else {
                inputs.platform.clone()
            };
            let mut single = design.single_array(&chip, array, args.ideal_memory, (m, n, k))?;
            if let Some(dataflow) = &args.dataflow {
                let dataflow = dataflow
                    .parse::<Dataflow>()
                    .map_err(|rule| option_error("--dataflow", rule))?;
                single =
                    single.modified(&chip, "--dataflow", |raw| raw.arrays.dataflow = dataflow)?;
            }
            SimulationJob::Gemm((m, n, k), Box::new(single))
        }
        None => SimulationJob::Model(Box::new(pipeline::design_workload(
            &inputs.model,
            inputs.policy.as_ref(),
            &inputs.platform,
            &design,
            &inputs.choices,
        )?)),
    };
    if args.trace_format.is_some() && !args.trace {
        return Err(option_error(
            "--trace-format",
            "applies only with --trace".to_string(),
        ));
    }
    let trace_format = args.trace_format.unwrap_or(TraceFormat::Csv);
    let _lock = prepare_out(&args.out)?;
    let partial = report::partial_path(&args.out, trace_format.file_name());
    let clock_hz = match &job {
        SimulationJob::Gemm(_, single) => single.clock_hz(),
        SimulationJob::Model(_) => design.clock_hz(),
    };
    let mut trace: Option<Box<dyn TraceFile>> = if args.trace {
        std::fs::create_dir_all(&args.out).map_err(ReportError::io(&args.out))?;
        let file = std::fs::File::create(&partial).map_err(ReportError::io(&partial))?;
        let writer = std::io::BufWriter::new(file);
        Some(match trace_format {
            TraceFormat::Chrome => {
                Box::new(ChromeTrace::new(writer, clock_hz, crate::trace::COVERAGE))
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
                *analysis,
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
    let text = if args.ideal_memory && args.gemm.is_some() {
        format!(
            "idealised: memory of unlimited bandwidth and no latency, the GEMM one tile, \
             on-chip resources unchecked (the array's timing alone)\n{}",
            output.text
        )
    } else {
        output.text
    };
    let mut ran = Ran::new(text, &args.out, output.files.iter().map(|(name, _)| name));
    // The trace goes in under its name last, once everything else is written.
    if args.trace {
        let path = args.out.join(trace_format.file_name());
        std::fs::rename(&partial, &path).map_err(ReportError::io(&path))?;
        ran.written.push(path);
    }
    Ok(ran)
}

/// What `simulate` runs: one GEMM on one array, or the model's encoders.
enum SimulationJob {
    Gemm((u64, u64, u64), Box<Design>),
    Model(Box<crate::roofline::RooflineAnalysis>),
}

/// A bar on a terminal; nothing when stderr is piped.
fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_message("simulating distinct layers");
    bar
}

fn run_lower(args: &LowerArgs) -> Result<Ran, Error> {
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
    let text = format!(
        "{} nodes, {} edges, {} bytes moved by the tiling\n",
        graph.graph.node_count(),
        graph.graph.edge_count(),
        graph.totals().bytes_tiled
    );
    Ok(Ran {
        text,
        written: vec![args.dot.clone()],
    })
}

fn run_analyze(args: &AnalyzeArgs) -> Result<Ran, Error> {
    let inputs = load_inputs(&args.inputs)?;
    let design = load_design_for(args.design.as_deref(), &args.inputs, &inputs)?;
    let design = clock_from_model(design, &inputs, args.clock_from_model, false)?;
    let precisions = precisions_or_default(&args.precision)?;
    let progress = progress_bar();
    let output = pipeline::analyze(
        &inputs.model,
        inputs.policy.as_ref(),
        &inputs.platform,
        &design,
        &inputs.choices,
        &precisions,
        args.max_events,
        &|| progress.inc(1),
    );
    progress.finish_and_clear();
    let output = output?;
    let _lock = prepare_out(&args.out)?;
    write_all(&args.out, &output.files)?;
    let report = args.out.join("report.html");
    let text = format!("{}\nreport: {}\n", output.text, report.display());
    Ok(Ran::new(
        text,
        &args.out,
        output.files.iter().map(|(name, _)| name),
    ))
}
