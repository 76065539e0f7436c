//! `summary.json`: a run's results in one document, for scripts (the tables' figures, not
//! new ones).

use super::pipeline::pipeline_checks;
use super::step::{DecodeRun, RobotStep};
use crate::config::design::Design;
use crate::config::design::clock::expected_clock;
use crate::config::platform::Platform;
use crate::roofline::RooflineAnalysis;
use crate::sim::power::run_power;
use crate::sim::{Bottleneck, SimTotals, WorkloadSim, encoder_totals};
use crate::workload::{Encoder, ExpertSwitches, Prefill};
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::BTreeMap;

/// The cycles of each cause, by name (`compute_cycles`, `hbm_bandwidth_cycles`, ...: one
/// per attribution cause), summing to the cycles.
fn attribution(totals: &SimTotals) -> BTreeMap<String, u64> {
    Bottleneck::ALL
        .iter()
        .map(|cause| {
            let cycles = totals.attribution[*cause as usize];
            (format!("{}_cycles", cause.name()), cycles)
        })
        .collect()
}

/// `summary.json`'s bytes: the summary's JSON, keys in sorted order, pretty-printed.
pub fn summary_json(summary: &Summary) -> Vec<u8> {
    let value = serde_json::to_value(summary).expect("a summary serialises");
    let mut bytes = serde_json::to_vec_pretty(&value).expect("a summary serialises");
    bytes.push(b'\n');
    bytes
}

/// The JSON Schema of `summary.json` (draft 2020-12), generated from [`Summary`]: what
/// `docs/src/summary.schema.json` holds.
pub fn summary_schema() -> String {
    let schema = schemars::schema_for!(Summary);
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serialises");
    text.push('\n');
    text
}

/// `summary.json`: a run's results in one document, for scripts and the report's headline.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Summary {
    /// The roofsim version that wrote it.
    pub roofsim_version: String,
    /// The design simulated.
    pub design: DesignSummary,
    /// What it takes from the platform.
    pub resources: ResourcesSummary,
    /// The platform's name.
    pub platform: String,
    /// The workload.
    pub workload: WorkloadSummary,
    /// The simulation's size.
    pub simulation: SimulationSummary,
    /// Per encoder (vision, connector, text, expert, decode) that the run has.
    pub encoders: Vec<EncoderSummary>,
    /// The whole run: every encoder, one after another.
    pub total: TotalSummary,
    /// The board's power and energy, when the platform gives `[power]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub power: Option<PowerSummary>,
    /// The whole robot step, with `--pipeline full`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub robot_step: Option<RobotStepSummary>,
    /// Generation after the prefix, with `--decode N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decode: Option<DecodeSummary>,
}

/// The design as validated.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct DesignSummary {
    pub name: String,
    /// The design file (or `built-in:...`).
    pub source: String,
    pub clock_mhz: f64,
    pub precision: String,
    pub fusion: String,
    /// `hbm` (the fast model), `dram` (bank level) or `ideal`.
    pub memory: String,
    pub arrays: ArraysSummary,
    /// 2 × MACs per cycle of every engine × the clock.
    pub peak_ops_per_s: f64,
    pub overlap_kernels: bool,
    pub overlap_layers: bool,
    pub engines: Vec<EngineSummary>,
}

/// The `[arrays]` pool.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ArraysSummary {
    pub count: u64,
    pub rows: u64,
    pub cols: u64,
    /// `os`, `ws` or `is`.
    pub dataflow: String,
    pub overlap_folds: bool,
}

/// One engine of the design, pooled or named.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct EngineSummary {
    pub name: String,
    /// `systolic`, `dot` or `vector`.
    pub kind: String,
    /// `64x64 os`, `112 lanes`, ...
    pub shape: String,
    pub precision: String,
    /// The SLR it is placed on, when the design says.
    pub slr: Option<u64>,
}

/// DSPs and block memories used, and their shares of what is there (0–1; above 1 does not
/// fit): of the whole chip, or of one SLR's part for kernels.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct BlockUse {
    pub dsps: u64,
    pub bram_blocks: u64,
    pub uram_blocks: u64,
    /// Of the chip's (in `resources`) or the SLR's (in `resources.slrs`), 0–1; above 1 does
    /// not fit. Likewise `bram_share` and `uram_share`.
    pub dsp_share: f64,
    pub bram_share: f64,
    pub uram_share: f64,
}

impl BlockUse {
    /// `used` (DSPs, BRAM and URAM blocks) of `available`.
    fn new(used: [u64; 3], available: [u64; 3]) -> Self {
        let share = |index: usize| used[index] as f64 / available[index].max(1) as f64;
        BlockUse {
            dsps: used[0],
            bram_blocks: used[1],
            uram_blocks: used[2],
            dsp_share: share(0),
            bram_share: share(1),
            uram_share: share(2),
        }
    }
}

/// What the design takes from the platform, in total and per SLR, and its expected clock.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ResourcesSummary {
    #[serde(flatten)]
    pub used: BlockUse,
    pub clock: ClockSummary,
    pub slrs: Vec<SlrSummary>,
    /// The on-chip links between kernels.
    pub links: Vec<LinkSummary>,
}

/// The clock the design may close at.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ClockSummary {
    pub design_mhz: f64,
    pub expected_mhz: f64,
    /// Low and high ends of the expected range.
    pub range_mhz: [f64; 2],
    /// Whether the design's clock is above the expected one.
    pub optimistic: bool,
    /// Why the clock is expected lower, one line each.
    pub reasons: Vec<String>,
}

/// One SLR's use, against what it offers to kernels.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct SlrSummary {
    #[serde(flatten)]
    pub used: BlockUse,
    /// Engine, multiplier and memory LUTs together, of the SLR's.
    pub lut_share: f64,
    pub luts: u64,
    /// LUTs of LUT multipliers.
    pub logic_luts: u64,
    /// LUTs used as memory (link storage).
    pub memory_luts: u64,
    pub ffs: u64,
    /// Super long lines used across the boundary below this SLR, and available there.
    pub slls_below: u64,
    pub slls_available: u64,
    /// The engines placed here, by name.
    pub engines: Vec<String>,
}

/// One on-chip link and its storage.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct LinkSummary {
    /// `producer -> consumer`.
    pub link: String,
    /// `buffer` or `stream`.
    pub via: String,
    pub bytes: u64,
    pub storage: Vec<LinkStorageSummary>,
    /// Super long lines it takes on each SLR boundary (index b: SLR b to b + 1).
    pub slls: Vec<u64>,
}

/// A link's storage beside one consumer engine.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct LinkStorageSummary {
    pub engine: String,
    pub slr: u64,
    /// `bram`, `uram` or `lutram`.
    pub memory: String,
    pub bram_blocks: u64,
    pub uram_blocks: u64,
    pub luts: u64,
}

/// The workload the run simulated.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct WorkloadSummary {
    /// The policy config, or none for a bare model.
    pub policy: Option<String>,
    pub cameras: u64,
    pub batch: u64,
    pub text_tokens: u64,
    pub image_tokens: u64,
    pub language_tokens: u64,
    pub state_tokens: u64,
    pub text_layers: u64,
    pub prefill: Prefill,
    /// `full` with `--pipeline full`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<String>,
    /// The full pipeline's switches, with `--pipeline full`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub switches: Option<ExpertSwitches>,
    /// With `--decode N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decode_tokens: Option<u64>,
}

/// What was simulated.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct SimulationSummary {
    /// Distinct layers (units) simulated; identical ones share a result.
    pub distinct_layers: u64,
    pub events: u64,
}

/// Cycles, time and their causes, of an encoder or of the whole run.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Totals {
    /// Kernel instances.
    pub kernels: u64,
    pub cycles: u64,
    pub ms: f64,
    pub ops_per_s: f64,
    /// Of the design's peak, 0–1.
    pub efficiency: f64,
    /// The cause with most cycles.
    pub bottleneck: String,
    /// Bytes the tiling moves to and from HBM.
    pub hbm_bytes_tiled: u64,
    pub attribution: BTreeMap<String, u64>,
}

/// One encoder's totals, against the pipeline model on the same engines.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct EncoderSummary {
    #[serde(flatten)]
    pub totals: Totals,
    pub encoder: String,
    pub pipeline_model_cycles: u64,
    pub pipeline_busy_efficiency: f64,
    /// Vision and connector: milliseconds per camera image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ms_per_camera: Option<f64>,
}

/// The whole run's totals and rates.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct TotalSummary {
    #[serde(flatten)]
    pub totals: Totals,
    pub observations_per_s: f64,
    pub hbm_gb_per_s: f64,
}

/// Board power and energy, each a low–high range from the platform's `[power]`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct PowerSummary {
    pub power_w_min: f64,
    pub power_w_max: f64,
    pub static_w: [f64; 2],
    pub hbm_w: [f64; 2],
    pub compute_w: [f64; 2],
    pub energy_j_per_observation: [f64; 2],
    pub gops_per_w: [f64; 2],
    pub assumed_dsp_w_at_300_mhz: [f64; 2],
}

/// The whole robot step: observation in, action chunk out.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct RobotStepSummary {
    pub latency_ms: f64,
    pub encoders_ms: f64,
    pub expert_ms: f64,
    pub expert_ms_per_flow_step: f64,
    pub flow_steps: u64,
    /// `encoders` or `expert`: the larger half.
    pub bound_by: String,
    pub chunks_per_s: f64,
    pub actions_per_chunk: u64,
    pub actions_per_s: f64,
}

/// Generation after the prefix.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct DecodeSummary {
    /// The prefill and the LM head over its last row.
    pub time_to_first_token_ms: f64,
    pub tokens: u64,
    pub prefix_tokens: u64,
    pub mean_token_ms: f64,
    /// Each generated token's time, in order.
    pub token_ms: Vec<f64>,
    pub tokens_per_s: f64,
}

/// The run's summary: the design and its resources, the workload, and per encoder and in
/// total the cycles, milliseconds, efficiency, bottleneck and cycles by cause, the
/// observations per second: what a script needs without parsing tables, and what the
/// report's headline shows.
pub fn summary(
    analysis: &RooflineAnalysis,
    sim: &WorkloadSim,
    design: &Design,
    platform: &Platform,
) -> Summary {
    let options = &analysis.workload.options;
    let images = (options.cameras * options.batch) as f64;
    let (encoders, all) = encoder_totals(&analysis.workload, sim, design, platform);
    let totals_of = |totals: &SimTotals| Totals {
        kernels: totals.instances,
        cycles: totals.cycles,
        ms: totals.seconds(design) * 1e3,
        ops_per_s: totals.ops / totals.seconds(design),
        efficiency: totals.efficiency(design),
        bottleneck: totals.bottleneck().name().to_string(),
        hbm_bytes_tiled: totals.bytes_tiled,
        attribution: attribution(totals),
    };
    let checks = pipeline_checks(analysis, sim, design);
    let step = RobotStep::new(&analysis.workload, &encoders, design);
    let encoder_summaries = encoders
        .iter()
        .zip(&checks)
        .map(|((encoder, totals), check)| EncoderSummary {
            totals: totals_of(totals),
            encoder: encoder.name().to_string(),
            pipeline_model_cycles: check.model_cycles,
            pipeline_busy_efficiency: check.busy_efficiency,
            ms_per_camera: matches!(encoder, Encoder::Vision | Encoder::Connector)
                .then(|| totals.seconds(design) * 1e3 / images),
        })
        .collect();
    let total_s = all.seconds(design);
    let resources = sim.bill.total;
    let share = |used: u64, available: u64| used as f64 / available.max(1) as f64;
    let array = design.array();
    let clock = expected_clock(design, platform, &sim.bill.slrs);
    let ops: f64 = analysis.iter().map(|(_, point)| point.ops).sum();
    let power = run_power(sim, design, platform, ops, options.batch).map(|power| {
        let pair = |(low, high): (f64, f64)| [low, high];
        PowerSummary {
            power_w_min: power.total_w.0,
            power_w_max: power.total_w.1,
            static_w: pair(power.static_w),
            hbm_w: pair(power.hbm_w),
            compute_w: pair(power.compute_w),
            energy_j_per_observation: pair(power.energy_j),
            gops_per_w: pair(power.gops_per_w),
            assumed_dsp_w_at_300_mhz: pair(power.dsp_w_at_300_mhz),
        }
    });
    let decode = DecodeRun::new(&analysis.workload, sim, design);
    Summary {
        roofsim_version: env!("CARGO_PKG_VERSION").to_string(),
        design: DesignSummary {
            name: design.name().to_string(),
            source: design.source().to_string(),
            clock_mhz: design.clock_hz() / 1e6,
            precision: design.precision().to_string(),
            fusion: design.fusion().to_string(),
            memory: design.memory().name().to_string(),
            arrays: ArraysSummary {
                count: design.array_count(),
                rows: array.rows,
                cols: array.cols,
                dataflow: array.dataflow.name().to_string(),
                overlap_folds: array.overlap_folds,
            },
            peak_ops_per_s: 2.0 * design.macs_per_cycle() as f64 * design.clock_hz(),
            overlap_kernels: design.overlap_kernels(),
            overlap_layers: design.overlap_layers(),
            engines: design
                .engines()
                .iter()
                .map(|engine| {
                    let (kind, shape) = engine.describe();
                    EngineSummary {
                        name: engine.name.clone(),
                        kind: kind.to_string(),
                        shape,
                        precision: engine.precision.name().to_string(),
                        slr: engine.slr,
                    }
                })
                .collect(),
        },
        resources: ResourcesSummary {
            used: BlockUse::new(
                [resources.dsps, resources.bram_blocks, resources.uram_blocks],
                [
                    platform.dsp_slices,
                    platform.sram.bram_blocks,
                    platform.sram.uram_blocks,
                ],
            ),
            clock: ClockSummary {
                design_mhz: clock.design_mhz,
                expected_mhz: clock.expected_mhz,
                range_mhz: [clock.range_mhz.0, clock.range_mhz.1],
                optimistic: clock.is_optimistic(),
                reasons: clock.reasons.clone(),
            },
            slrs: sim
                .bill
                .slrs
                .iter()
                .map(|slr| SlrSummary {
                    used: BlockUse::new(
                        [slr.used.dsps, slr.used.bram_blocks, slr.used.uram_blocks],
                        [
                            slr.available.dsp_slices,
                            slr.available.bram_blocks,
                            slr.available.uram_blocks,
                        ],
                    ),
                    lut_share: share(
                        slr.used.luts + slr.used.logic_luts + slr.used.memory_luts,
                        slr.available.luts,
                    ),
                    luts: slr.used.luts,
                    logic_luts: slr.used.logic_luts,
                    memory_luts: slr.used.memory_luts,
                    ffs: slr.used.ffs,
                    slls_below: slr.slls_below,
                    slls_available: slr.slls_available,
                    engines: slr
                        .engines
                        .iter()
                        .map(|e| design.engines()[e.engine].name.clone())
                        .collect(),
                })
                .collect(),
            links: sim
                .bill
                .links
                .iter()
                .map(|link| LinkSummary {
                    link: link.link.clone(),
                    via: link.via.name().to_string(),
                    bytes: link.bytes,
                    storage: link
                        .parts
                        .iter()
                        .map(|part| LinkStorageSummary {
                            engine: design.engines()[part.engine].name.clone(),
                            slr: part.slr as u64,
                            memory: part.storage.kind.name().to_string(),
                            bram_blocks: part.storage.bram_blocks,
                            uram_blocks: part.storage.uram_blocks,
                            luts: part.storage.luts,
                        })
                        .collect(),
                    slls: link.slls.clone(),
                })
                .collect(),
        },
        platform: platform.name.clone(),
        workload: WorkloadSummary {
            policy: options.policy.clone(),
            cameras: options.cameras,
            batch: options.batch,
            text_tokens: analysis.workload.text_tokens,
            image_tokens: analysis.workload.image_tokens,
            language_tokens: options.language_tokens,
            state_tokens: options.state_tokens,
            text_layers: options.text_layers,
            prefill: options.prefill,
            pipeline: step.map(|_| "full".to_string()),
            switches: step.map(|_| options.switches),
            decode_tokens: decode.as_ref().map(|_| options.decode_tokens),
        },
        simulation: SimulationSummary {
            distinct_layers: sim.units_simulated as u64,
            events: sim.events,
        },
        encoders: encoder_summaries,
        total: TotalSummary {
            totals: totals_of(&all),
            observations_per_s: options.batch as f64 / total_s,
            hbm_gb_per_s: all.bytes_tiled as f64 / total_s / 1e9,
        },
        power,
        robot_step: step.map(|step| step.summary()),
        decode: decode.map(|decode| decode.summary()),
    }
}
