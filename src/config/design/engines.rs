//! Named engines of a dataflow design and the mapping of kernels onto them (their links are
//! in `links.rs`). The `[arrays]` and `[vector]` sections stay as a pool of identical
//! engines for every kernel the mapping does not name.

use super::kinds::{Dataflow, KernelClass, LoopOrder};
use super::{ArrayShape, RawTile, Tiling};
use crate::config::precision::Precision;
use crate::config::{ConfigError, in_range};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What an engine computes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema, Serialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// A systolic array of `rows × cols` processing elements.
    Systolic,
    /// An unrolled dot-product unit (adder tree) of `lanes` MACs per cycle.
    Dot,
    /// Element-wise and reduction passes, `lanes` elements per cycle.
    Vector,
}

/// What a GEMM engine's multipliers are built from.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema, Serialize, Hash,
)]
#[serde(rename_all = "lowercase")]
pub enum MacKind {
    /// DSP48E2 slices, packed as the platform allows at the engine's precision.
    #[default]
    Dsp,
    /// Fabric LUTs (integer precisions only): no DSPs, LUTs by FINN's cost model.
    Lut,
}

/// One `[[engines]]` entry as the file states it; which fields apply depends on `kind`.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawEngine {
    /// The engine's name, for `[mapping]`, `[[links]]` and reports (copies are `NAME#0`,
    /// `NAME#1`...). At most 256 entries, 4,096 engines in all (pool included).
    pub name: String,
    /// `systolic` (rows × cols processing elements), `dot` (a dot-product unit of `lanes` MACs)
    /// or `vector` (`lanes` elements per cycle).
    pub kind: EngineKind,
    /// Identical copies, named `NAME#0`, `NAME#1`... (one: just `NAME`). Range: 1–1024.
    #[serde(default = "one")]
    pub count: u64,
    /// Systolic: processing-element rows. Range: 1–4096.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    /// Systolic: processing-element columns. Range: 1–4096.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cols: Option<u64>,
    /// Systolic: `os`, `ws` or `is` (the pool's `arrays.dataflow` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataflow: Option<Dataflow>,
    /// Systolic: whether a fold starts while the previous one drains (false when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap_folds: Option<bool>,
    /// Dot: MACs per cycle; vector: elements per cycle. Range: 1–65,536.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lanes: Option<u64>,
    /// Pipeline depth in cycles: paid once per tile (dot) or per pass (vector). Range: 0–4096.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<u64>,
    /// Vector only: cycles between two groups of `lanes` elements (an fp32 `exp` that starts
    /// every 4th cycle has 4). Range: 1–64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<u64>,
    /// Compute precision (`int4`, `int8`, `fp16`, `bf16`, `fp32`); the design's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<Precision>,
    /// Systolic and dot engines: `dsp` (default) or `lut` multipliers (integer precisions;
    /// FINN's LUT cost model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<MacKind>,
    /// The SLR the engine sits on; engines without one are dealt in turn from SLR0. Range: 0–2
    /// (below the platform's SLR count).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slr: Option<u64>,
    /// The GEMM tile this engine's kernels take (systolic and dot engines): `{ tm, tn, tk,
    /// loop_order }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tiling: Option<RawTile>,
    /// Vector engines: the order of a batched kernel's row chunks, `mnk` (instance by instance:
    /// head-major, the default) or `mbnk` (each row block of every instance, then the next:
    /// row-major across heads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loop_order: Option<LoopOrder>,
}

fn one() -> u64 {
    1
}

/// An engine's timing model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EngineModel {
    /// A systolic array of this shape.
    Systolic(ArrayShape),
    /// A dot-product unit: `lanes` MACs per cycle after a pipeline of `depth_cycles`.
    Dot {
        /// MACs per cycle.
        lanes: u64,
        /// Pipeline depth, paid once per tile.
        depth_cycles: u64,
    },
    /// A vector unit: `lanes` elements every `interval_cycles` after a pipeline of `depth_cycles`.
    Vector {
        /// Elements per group.
        lanes: u64,
        /// Pipeline depth, paid once per pass.
        depth_cycles: u64,
        /// Cycles between two groups.
        interval_cycles: u64,
    },
}

/// A validated engine: a pool array, a pool vector unit or one copy of a named engine.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Engine {
    /// `array0`, `vector1`, `fc1`, `qkv#2`...
    pub name: String,
    /// The `[[engines]]` name it is a copy of (`array`/`vector` for the pool).
    pub group: String,
    /// How it decides time.
    pub model: EngineModel,
    /// The precision it computes at.
    pub precision: Precision,
    /// DSP or LUT multipliers.
    pub mac: MacKind,
    /// The SLR its entry names, if any (else it is dealt one in turn).
    pub slr: Option<u64>,
    /// Its position among the engines of its family (GEMM or vector): the mini-switch it
    /// sits on when `axi_ports = "per_unit"`.
    pub port: u64,
    /// Its own GEMM tile, if it has one.
    pub tiling: Option<Tiling>,
    /// A vector engine's order of a batched kernel's row chunks (`Mnk` or `Mbnk`).
    pub chunk_order: LoopOrder,
}

impl Engine {
    /// Whether it runs GEMM tiles (systolic or dot) rather than vector passes.
    pub fn runs_gemms(&self) -> bool {
        !matches!(self.model, EngineModel::Vector { .. })
    }

    /// MACs per cycle at full use (0 for a vector engine).
    pub fn macs_per_cycle(&self) -> u64 {
        match self.model {
            EngineModel::Systolic(shape) => shape.rows * shape.cols,
            EngineModel::Dot { lanes, .. } => lanes,
            EngineModel::Vector { .. } => 0,
        }
    }

    /// Elements per cycle of a vector engine at full rate (0 for a GEMM engine).
    pub fn elements_per_cycle(&self) -> f64 {
        match self.model {
            EngineModel::Vector {
                lanes,
                interval_cycles,
                ..
            } => lanes as f64 / interval_cycles as f64,
            _ => 0.0,
        }
    }

    /// `systolic 64x64 os`, `dot 256 lanes`, `vector 256 lanes`: its kind and shape.
    pub fn describe(&self) -> (&'static str, String) {
        match self.model {
            EngineModel::Systolic(a) => (
                "systolic",
                format!("{}x{} {}", a.rows, a.cols, a.dataflow.name()),
            ),
            EngineModel::Dot { lanes, .. } => ("dot", format!("{lanes} lanes")),
            EngineModel::Vector { lanes, .. } => ("vector", format!("{lanes} lanes")),
        }
    }

    /// Whether it computes `precision`: the same, or a narrower integer on an integer engine.
    pub fn can_run(&self, precision: Precision) -> bool {
        let integer = |p: Precision| matches!(p, Precision::Int4 | Precision::Int8);
        precision == self.precision
            || (integer(precision) && integer(self.precision) && precision < self.precision)
    }
}

/// Valid ranges of the engine fields (documented in docs/src/commands.md).
pub mod limits {
    use std::ops::RangeInclusive;
    /// Copies of one `[[engines]]` entry.
    pub const COUNT: RangeInclusive<u64> = 1..=1024;
    /// A systolic engine's rows or columns.
    pub const SIDE: RangeInclusive<u64> = 1..=4096;
    /// A dot or vector engine's lanes.
    pub const LANES: RangeInclusive<u64> = 1..=65_536;
    /// Pipeline depth in cycles.
    pub const DEPTH: RangeInclusive<u64> = 0..=4096;
    /// A vector engine's cycles between groups.
    pub const INTERVAL: RangeInclusive<u64> = 1..=64;
    /// SLR indices.
    pub const SLR: RangeInclusive<u64> = 0..=2;
    /// A stream link's FIFO depth in tiles.
    pub const DEPTH_TILES: RangeInclusive<u64> = 1..=1024;
    /// `[[engines]]` entries.
    pub const ENGINES: usize = 256;
    /// Engines in all, the pool's and every copy: per-engine state is kept per simulated
    /// unit, so this bounds memory.
    pub const ENGINE_COPIES: usize = 4096;
}

/// Validates the `[[engines]]` entries into engines, numbering their ports after
/// `gemm_ports` pool arrays and `vector_ports` pool vector units.
pub(super) fn validate_engines(
    raw: &[RawEngine],
    file: &str,
    design_precision: Precision,
    (mut gemm_ports, mut vector_ports): (u64, u64),
    tile: impl Fn(&str, &RawTile) -> Result<Tiling, ConfigError>,
) -> Result<Vec<Engine>, ConfigError> {
    if raw.len() > limits::ENGINES {
        return Err(ConfigError::invalid(
            file,
            "engines",
            format!("at most {} entries, found {}", limits::ENGINES, raw.len()),
        ));
    }
    let mut engines = Vec::new();
    for (index, entry) in raw.iter().enumerate() {
        let prefix = format!("engines[{index}]");
        let field = |name: &str| format!("{prefix}.{name}");
        let invalid = |name: &str, rule: String| ConfigError::invalid(file, field(name), rule);
        if entry.name.is_empty()
            || !entry
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c))
            || ["array", "vector"]
                .iter()
                .any(|pool| entry.name.strip_prefix(pool).is_some_and(is_number))
        {
            return Err(invalid(
                "name",
                format!(
                    "`{}` must be letters, digits, `_` or `-`, and not a pool engine's name \
                     (arrayN, vectorN)",
                    entry.name
                ),
            ));
        }
        if raw[..index].iter().any(|e| e.name == entry.name) {
            return Err(invalid("name", format!("`{}` is named twice", entry.name)));
        }
        let whole = |name: &str, value: Option<u64>, default: Option<u64>, range| {
            let value = value.or(default).ok_or_else(|| {
                invalid(name, format!("a {} engine needs it", kind_name(entry.kind)))
            })?;
            in_range(file, &field(name), value, range)
        };
        let not_for = |name: &str, given: bool| {
            if given {
                Err(invalid(
                    name,
                    format!("does not apply to a {} engine", kind_name(entry.kind)),
                ))
            } else {
                Ok(())
            }
        };
        let model = match entry.kind {
            EngineKind::Systolic => {
                not_for("loop_order", entry.loop_order.is_some())?;
                not_for("lanes", entry.lanes.is_some())?;
                not_for("depth", entry.depth.is_some())?;
                not_for("interval", entry.interval.is_some())?;
                EngineModel::Systolic(ArrayShape {
                    rows: whole("rows", entry.rows, None, limits::SIDE)?,
                    cols: whole("cols", entry.cols, None, limits::SIDE)?,
                    dataflow: entry.dataflow.unwrap_or(Dataflow::Os),
                    overlap_folds: entry.overlap_folds.unwrap_or(false),
                })
            }
            EngineKind::Dot | EngineKind::Vector => {
                not_for("rows", entry.rows.is_some())?;
                not_for("cols", entry.cols.is_some())?;
                not_for("dataflow", entry.dataflow.is_some())?;
                not_for("overlap_folds", entry.overlap_folds.is_some())?;
                let lanes = whole("lanes", entry.lanes, None, limits::LANES)?;
                let depth_cycles = whole("depth", entry.depth, Some(0), limits::DEPTH)?;
                if entry.kind == EngineKind::Dot {
                    not_for("interval", entry.interval.is_some())?;
                    not_for("loop_order", entry.loop_order.is_some())?;
                    EngineModel::Dot {
                        lanes,
                        depth_cycles,
                    }
                } else {
                    not_for("tiling", entry.tiling.is_some())?;
                    not_for("mac", entry.mac.is_some())?;
                    if entry.loop_order == Some(LoopOrder::Nmk) {
                        return Err(invalid(
                            "loop_order",
                            "a vector engine streams rows: `mnk` (instance by instance) or \
                             `mbnk` (row blocks across instances)"
                                .to_string(),
                        ));
                    }
                    EngineModel::Vector {
                        lanes,
                        depth_cycles,
                        interval_cycles: whole(
                            "interval",
                            entry.interval,
                            Some(1),
                            limits::INTERVAL,
                        )?,
                    }
                }
            }
        };
        let count = whole("count", Some(entry.count), None, limits::COUNT)?;
        let precision = entry.precision.unwrap_or(design_precision);
        let mac = entry.mac.unwrap_or_default();
        if mac == MacKind::Lut && !matches!(precision, Precision::Int4 | Precision::Int8) {
            return Err(invalid(
                "mac",
                format!("`lut` multipliers are integer; this engine computes at {precision}"),
            ));
        }
        let slr = entry
            .slr
            .map(|slr| in_range(file, &field("slr"), slr, limits::SLR))
            .transpose()?;
        let tiling = entry
            .tiling
            .as_ref()
            .map(|t| tile(&field("tiling"), t))
            .transpose()?;
        for copy in 0..count {
            let port = if entry.kind == EngineKind::Vector {
                &mut vector_ports
            } else {
                &mut gemm_ports
            };
            engines.push(Engine {
                name: if count == 1 {
                    entry.name.clone()
                } else {
                    format!("{}#{copy}", entry.name)
                },
                group: entry.name.clone(),
                model,
                precision,
                mac,
                slr,
                port: *port,
                tiling,
                chunk_order: entry.loop_order.unwrap_or(LoopOrder::Mnk),
            });
            *port += 1;
        }
        if (gemm_ports + vector_ports) as usize > limits::ENGINE_COPIES {
            return Err(invalid(
                "count",
                format!(
                    "brings the design to {} engines with the pool's; at most {}",
                    gemm_ports + vector_ports,
                    limits::ENGINE_COPIES
                ),
            ));
        }
    }
    Ok(engines)
}

fn is_number(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_digit())
}

fn kind_name(kind: EngineKind) -> &'static str {
    match kind {
        EngineKind::Systolic => "systolic",
        EngineKind::Dot => "dot",
        EngineKind::Vector => "vector",
    }
}

/// What a `[mapping]` key names: one kernel by its table name, or a class of kernels.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MappingKey {
    /// `encoder/name`, as the tables print it.
    Kernel(String),
    /// A class of GEMMs (`projection`, `attention`, `mlp`).
    Class(KernelClass),
    /// Every vector kernel.
    Vector,
}

impl MappingKey {
    /// A key as written: a class name, `vector`, or a kernel label.
    pub fn parse(text: &str) -> MappingKey {
        if text == "vector" {
            return MappingKey::Vector;
        }
        KernelClass::ALL
            .into_iter()
            .find(|class| class.name() == text)
            .map_or_else(|| MappingKey::Kernel(text.to_string()), MappingKey::Class)
    }
}

/// Resolves `[mapping]`: each key to the indices of the engines its names' groups hold.
pub(super) fn validate_mapping(
    raw: &BTreeMap<String, Vec<String>>,
    engines: &[Engine],
    file: &str,
) -> Result<Vec<(MappingKey, Vec<usize>)>, ConfigError> {
    let groups: Vec<String> = engines.iter().map(|e| e.group.clone()).collect();
    let mut mapping = Vec::new();
    for (key, names) in raw {
        let field = format!("mapping.\"{key}\"");
        if names.is_empty() {
            return Err(ConfigError::invalid(file, &field, "names no engine"));
        }
        let mut indices = Vec::new();
        for name in names {
            let found: Vec<usize> = (0..engines.len())
                .filter(|&i| engines[i].group == *name || engines[i].name == *name)
                .collect();
            if found.is_empty() {
                return Err(ConfigError::invalid(
                    file,
                    &field,
                    format!(
                        "unknown engine `{name}`{}",
                        crate::config::did_you_mean(name, &groups)
                    ),
                ));
            }
            for index in found {
                if !indices.contains(&index) {
                    indices.push(index);
                }
            }
        }
        mapping.push((MappingKey::parse(key), indices));
    }
    Ok(mapping)
}

/// The engines a kernel's tiles are dealt to, as indices into [`super::Design::engines`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelEngines {
    /// Systolic or dot engines for GEMM tiles.
    pub gemm: Vec<usize>,
    /// Vector engines for vector passes.
    pub vector: Vec<usize>,
}

/// A kernel's table label, `encoder/name` (`vision/fc2`), in its two parts: what a
/// `[mapping]` key names, compared without building the label (the lowering and the reports
/// ask for a kernel's engines thousands of times a run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelLabel<'a> {
    /// The encoder's name (`vision`).
    pub encoder: &'a str,
    /// The kernel's name in it (`fc2`).
    pub name: &'a str,
}

impl std::fmt::Display for KernelLabel<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.encoder, self.name)
    }
}

impl KernelLabel<'_> {
    /// Whether `label` (`encoder/name`, as it is written) is this one.
    pub fn is(&self, label: &str) -> bool {
        let encoder = self.encoder.len();
        label.len() == encoder + 1 + self.name.len()
            && label.starts_with(self.encoder)
            && label.as_bytes()[encoder] == b'/'
            && label.ends_with(self.name)
    }
}

impl super::Design {
    /// The engines that run the kernel labelled `label` of `class` (`None`: a vector
    /// kernel): those `[mapping]` gives its label, else its class (or `vector`), split by
    /// kind; the pool for a kind the mapping leaves empty.
    pub fn engines_for(&self, label: KernelLabel, class: Option<KernelClass>) -> KernelEngines {
        let by_class = match class {
            Some(class) => MappingKey::Class(class),
            None => MappingKey::Vector,
        };
        let named = |key: &MappingKey| matches!(key, MappingKey::Kernel(name) if label.is(name));
        let mapped = (self.mapping.iter().find(|(key, _)| named(key)))
            .or_else(|| self.mapping.iter().find(|(key, _)| *key == by_class))
            .map_or(&[][..], |(_, engines)| &engines[..]);
        let of_kind = |gemm: bool, pool: std::ops::Range<usize>| {
            let chosen: Vec<usize> = mapped
                .iter()
                .copied()
                .filter(|&e| self.engines[e].runs_gemms() == gemm)
                .collect();
            if chosen.is_empty() {
                pool.collect()
            } else {
                chosen
            }
        };
        let arrays = self.array_count() as usize;
        KernelEngines {
            gemm: of_kind(true, 0..arrays),
            vector: of_kind(false, arrays..arrays + self.vector_units() as usize),
        }
    }

    /// The GEMM tile of a kernel (as in [`super::Design::engines_for`]): its first engine's own
    /// tile if it has one, else its class's.
    pub fn tiling_of(&self, label: KernelLabel, class: Option<KernelClass>) -> Tiling {
        self.engines_for(label, class)
            .gemm
            .first()
            .and_then(|&e| self.engines[e].tiling)
            .unwrap_or_else(|| self.tiling_for(class))
    }
}
