//! An accelerator design: systolic arrays, vector units, tiling, buffers, HBM placement.
//! Validated against a platform: a design that does not fit the board is rejected here.

pub mod clock;
mod control;
mod engines;
mod kinds;
mod links;
mod raw;
mod resources;
pub mod storage;

pub use control::Control;
pub use engines::{
    Engine, EngineKind, EngineModel, KernelEngines, KernelLabel, MacKind, MappingKey, RawEngine,
    limits as engine_limits,
};
pub use kinds::{
    ActivationLayout, AxiPorts, Dataflow, Fusion, KernelClass, LoopOrder, MemoryModel, SramKind,
    WeightLayout,
};
pub use links::{Link, RawLink, Schedule, Via};
pub(crate) use raw::file_schema;
pub use raw::{RawArrays, RawBuffers, RawDesign, RawPlacement, RawTile, RawTiling, RawVector};
pub use resources::{EngineUse, ResourceUse, SlrUse};

use super::platform::Platform;
use super::precision::PrecisionPair;
use super::{ConfigError, Source, in_range, parse_toml};

/// One systolic array shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArrayShape {
    /// Processing-element rows.
    pub rows: u64,
    /// Processing-element columns.
    pub cols: u64,
    /// Which operand stays in the processing elements.
    pub dataflow: Dataflow,
    /// Consecutive folds of a tile pipeline: fill and drain are paid once per tile.
    pub overlap_folds: bool,
}

/// A GEMM tile and loop order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tiling {
    /// Output rows of a tile.
    pub tm: u64,
    /// Output columns of a tile.
    pub tn: u64,
    /// Reduction depth of a tile.
    pub tk: u64,
    /// Order of the output-tile loops.
    pub loop_order: LoopOrder,
}

/// How tensors are spread over HBM pseudo-channels.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Placement {
    /// The pseudo-channels weights are striped over.
    pub weight_channels: Vec<u64>,
    /// The pseudo-channels activations are striped over.
    pub activation_channels: Vec<u64>,
    /// Consecutive bytes on one channel before the next channel of the set.
    pub stripe_bytes: u64,
    /// Largest request; a contiguous run is cut into bursts of at most this size.
    pub burst_bytes: u64,
    /// Requests one channel port keeps in flight.
    pub outstanding_requests: u64,
    /// Where the AXI masters enter the HBM switch.
    pub axi_ports: AxiPorts,
    /// How weights lie in HBM.
    pub weight_layout: WeightLayout,
    /// How activations and the key/value cache lie in HBM.
    pub activation_layout: ActivationLayout,
}

/// A validated design. Its fields are private: a design is changed only through
/// [`Design::modified`], which validates the changed design again.
#[derive(Debug, Clone, PartialEq)]
pub struct Design {
    raw: RawDesign,
    source: String,
    clock_hz: f64,
    precision: PrecisionPair,
    array: ArrayShape,
    tiling: Tiling,
    class_tilings: [Option<Tiling>; 3],
    placement: Placement,
    fusion: Fusion,
    resources: ResourceUse,
    /// Per SLR of the platform: what the design's engines placed there take.
    slrs: Vec<SlrUse>,
    /// The pool's arrays, then the pool's vector units, then each copy of each named engine.
    engines: Vec<Engine>,
    mapping: Vec<(MappingKey, Vec<usize>)>,
    links: Vec<Link>,
}

/// Valid ranges of the design's whole-number fields (documented in docs/src/config-files.md).
pub mod limits {
    use std::ops::RangeInclusive;
    /// The design's clock, MHz.
    pub const CLOCK_MHZ: RangeInclusive<f64> = 1.0..=1000.0;
    /// Arrays in the pool.
    pub const ARRAY_COUNT: RangeInclusive<u64> = 0..=1024;
    /// A pool array's rows or columns.
    pub const ARRAY_SIDE: RangeInclusive<u64> = 1..=4096;
    /// Vector units in the pool.
    pub const VECTOR_UNITS: RangeInclusive<u64> = 1..=1024;
    /// A pool vector unit's lanes.
    pub const VECTOR_LANES: RangeInclusive<u64> = 1..=65_536;
    /// A vector unit's line buffer, bytes.
    pub const CHUNK_BYTES: RangeInclusive<u64> = 1..=1 << 30;
    /// A tile's `tm`, `tn` or `tk`.
    pub const TILE: RangeInclusive<u64> = 1..=1 << 20;
    /// Buffer slots per operand.
    pub const SLOTS: RangeInclusive<u64> = 1..=16;
    /// Bytes on one channel before the next.
    pub const STRIPE_BYTES: RangeInclusive<u64> = 1..=1 << 30;
    /// An AXI3 burst of the HBM ports is at most 16 beats of 32 bytes (PG276).
    pub const BURST_BYTES: RangeInclusive<u64> = 1..=512;
    /// Requests one channel port keeps in flight.
    pub const OUTSTANDING: RangeInclusive<u64> = 1..=1024;
}

impl Design {
    /// Bytes of one slot of each operand buffer of one array: A (Tm×Tk), B (Tk×Tn) at their
    /// precision, and the output tile (Tm×Tn) at accumulator width.
    pub fn tile_buffer_bytes(tiling: &Tiling, precision: PrecisionPair) -> [u64; 3] {
        let bits = precision.activations.bits();
        [
            (tiling.tm * tiling.tk * bits).div_ceil(8),
            (tiling.tk * tiling.tn * precision.weights.bits()).div_ceil(8),
            tiling.tm * tiling.tn * precision.weights.parameter_vector_bits() / 8,
        ]
    }

    /// The tiling of a kernel of `class` (`None`: not a GEMM; the default tiling).
    pub fn tiling_for(&self, class: Option<KernelClass>) -> Tiling {
        class
            .and_then(|class| self.class_tilings[class as usize])
            .unwrap_or(self.tiling)
    }

    /// MACs all GEMM engines complete per cycle.
    pub fn macs_per_cycle(&self) -> u64 {
        self.engines.iter().map(Engine::macs_per_cycle).sum()
    }

    /// Every engine: the pool's arrays, the pool's vector units, then the named engines.
    pub fn engines(&self) -> &[Engine] {
        &self.engines
    }

    /// The `[mapping]` entries, resolved.
    pub fn mapping(&self) -> &[(MappingKey, Vec<usize>)] {
        &self.mapping
    }

    /// The on-chip links, validated.
    pub fn links(&self) -> &[Link] {
        &self.links
    }

    /// The link from the kernel labelled `from` to the one labelled `to`, if the file gives one.
    pub fn link(&self, from: &str, to: &str) -> Option<&Link> {
        self.links.iter().find(|l| l.from == from && l.to == to)
    }

    /// Whether a layer's kernels run as one overlapping dataflow graph.
    pub fn overlap_kernels(&self) -> bool {
        self.raw.schedule.overlap_kernels
    }

    /// What instruction-driven control costs (nothing for a dataflow design).
    pub fn control(&self) -> Control {
        self.raw.control
    }

    /// Whether an encoder's layers run as one graph (implies [`Design::overlap_kernels`]).
    pub fn overlap_layers(&self) -> bool {
        self.raw.schedule.overlap_layers
    }

    /// The design as its file states it (what `best.toml` writes back).
    pub fn raw(&self) -> &RawDesign {
        &self.raw
    }

    /// Where the design came from, for messages.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The design's name.
    pub fn name(&self) -> &str {
        &self.raw.name
    }

    /// The clock it runs at, Hz.
    pub fn clock_hz(&self) -> f64 {
        self.clock_hz
    }

    /// Weights' and activations' (and the key/value cache's) precision.
    pub fn precision(&self) -> PrecisionPair {
        self.precision
    }

    /// The HBM model it runs on.
    pub fn memory(&self) -> MemoryModel {
        self.raw.memory
    }

    /// Arrays in the pool.
    pub fn array_count(&self) -> u64 {
        self.raw.arrays.count
    }

    /// The pool arrays' shape.
    pub fn array(&self) -> ArrayShape {
        self.array
    }

    /// Vector units in the pool.
    pub fn vector_units(&self) -> u64 {
        self.raw.vector.units
    }

    /// Elements one vector unit processes per cycle.
    pub fn vector_lanes(&self) -> u64 {
        self.raw.vector.lanes
    }

    /// Bytes of one input a vector pass streams at a time (its line buffer).
    pub fn vector_chunk_bytes(&self) -> u64 {
        self.raw.vector.chunk_bytes
    }

    /// Default GEMM tiling.
    pub fn tiling(&self) -> Tiling {
        self.tiling
    }

    /// Slots of each operand buffer.
    pub fn buffer_slots(&self) -> u64 {
        self.raw.buffers.slots
    }

    /// The block memory of the tile buffers.
    pub fn buffer_memory(&self) -> SramKind {
        self.raw.buffers.memory
    }

    /// Where tensors lie in HBM.
    pub fn placement(&self) -> &Placement {
        &self.placement
    }

    /// Which kernels are fused.
    pub fn fusion(&self) -> Fusion {
        self.fusion
    }

    /// What the whole design takes from the platform.
    pub fn resources(&self) -> ResourceUse {
        self.resources
    }

    /// What the design takes from each SLR, with the engines placed there.
    pub fn slr_use(&self) -> &[SlrUse] {
        &self.slrs
    }

    /// This design changed by `change` and validated again; errors name the source and what
    /// changed it (`by`: a command-line option, a sweep point...).
    pub fn modified(
        &self,
        platform: &Platform,
        by: &str,
        change: impl FnOnce(&mut RawDesign),
    ) -> Result<Design, ConfigError> {
        let mut raw = self.raw.clone();
        change(&mut raw);
        let mut design = validate_design(&raw, &format!("{} with {by}", self.source), platform)?;
        design.source = self.source.clone();
        Ok(design)
    }

    /// This design cut down to one array (of `shape`, if given) for a lone GEMM, validated
    /// again. With ideal memory the whole GEMM is one tile, so the cycle count is the array
    /// model's alone.
    pub fn single_array(
        &self,
        platform: &Platform,
        shape: Option<(u64, u64)>,
        ideal_memory: bool,
        (m, n, k): (u64, u64, u64),
    ) -> Result<Design, ConfigError> {
        self.modified(platform, "--gemm", |raw| {
            raw.arrays.count = 1;
            if let Some((rows, cols)) = shape {
                raw.arrays.rows = rows;
                raw.arrays.cols = cols;
            }
            if ideal_memory {
                raw.memory = MemoryModel::Ideal;
                raw.tiling.tm = m;
                raw.tiling.tn = n;
                raw.tiling.tk = k;
                raw.tiling.projection = None;
                raw.tiling.attention = None;
                raw.tiling.mlp = None;
            }
        })
    }
}

/// Reads a design TOML and checks it fits `platform`.
pub fn load_design(source: &Source, platform: &Platform) -> Result<Design, ConfigError> {
    let raw: RawDesign = parse_toml(source)?;
    validate_design(&raw, &source.name, platform)
}

/// Parses a design TOML without validating it (sweeps vary it, then validate each point).
pub fn parse_design(source: &Source) -> Result<RawDesign, ConfigError> {
    parse_toml(source)
}

/// Checks a raw design against `platform`; errors name `file` and the field.
pub fn validate_design(
    raw: &RawDesign,
    file: &str,
    platform: &Platform,
) -> Result<Design, ConfigError> {
    let invalid = |field: &str, rule: String| ConfigError::invalid(file, field, rule);
    let whole = |field: &str, value: u64, range| in_range(file, field, value, range);
    let precision: PrecisionPair = raw
        .precision
        .parse()
        .map_err(|rule| invalid("precision", rule))?;
    let clock_mhz = in_range(file, "clock_mhz", raw.clock_mhz, limits::CLOCK_MHZ)?;
    if raw.memory == MemoryModel::Dram && platform.hbm.dram.is_none() {
        return Err(invalid(
            "memory",
            format!(
                "\"dram\" needs the platform's bank-level timing ([hbm.dram] in {})",
                platform.source
            ),
        ));
    }
    let array = ArrayShape {
        rows: whole("arrays.rows", raw.arrays.rows, limits::ARRAY_SIDE)?,
        cols: whole("arrays.cols", raw.arrays.cols, limits::ARRAY_SIDE)?,
        dataflow: raw.arrays.dataflow,
        overlap_folds: raw.arrays.overlap_folds,
    };
    let array_count = whole("arrays.count", raw.arrays.count, limits::ARRAY_COUNT)?;
    let tile = |prefix: &str, tm, tn, tk, loop_order| -> Result<Tiling, ConfigError> {
        Ok(Tiling {
            tm: whole(&format!("{prefix}.tm"), tm, limits::TILE)?,
            tn: whole(&format!("{prefix}.tn"), tn, limits::TILE)?,
            tk: whole(&format!("{prefix}.tk"), tk, limits::TILE)?,
            loop_order,
        })
    };
    let raw_tiling = &raw.tiling;
    let tiling = tile(
        "tiling",
        raw_tiling.tm,
        raw_tiling.tn,
        raw_tiling.tk,
        raw_tiling.loop_order,
    )?;
    let mut class_tilings = [None; 3];
    for (class, raw_tile) in KernelClass::ALL.into_iter().zip([
        &raw_tiling.projection,
        &raw_tiling.attention,
        &raw_tiling.mlp,
    ]) {
        if let Some(t) = raw_tile {
            let prefix = format!("tiling.{}", class.name());
            class_tilings[class as usize] = Some(tile(&prefix, t.tm, t.tn, t.tk, t.loop_order)?);
        }
    }
    let buffer_slots = whole("buffers.slots", raw.buffers.slots, limits::SLOTS)?;
    let channels = |field: &str, [first, last]: [u64; 2]| {
        if first > last || last >= platform.hbm.channels {
            Err(invalid(
                field,
                format!(
                    "[{first}, {last}] is not a range of the platform's channels 0..={}",
                    platform.hbm.channels - 1
                ),
            ))
        } else {
            Ok((first..=last).collect::<Vec<u64>>())
        }
    };
    let hbm = &raw.hbm;
    let placement = Placement {
        weight_channels: channels("hbm.weight_channels", hbm.weight_channels)?,
        activation_channels: channels("hbm.activation_channels", hbm.activation_channels)?,
        stripe_bytes: whole("hbm.stripe_bytes", hbm.stripe_bytes, limits::STRIPE_BYTES)?,
        burst_bytes: whole("hbm.burst_bytes", hbm.burst_bytes, limits::BURST_BYTES)?,
        outstanding_requests: whole(
            "hbm.outstanding_requests",
            hbm.outstanding_requests,
            limits::OUTSTANDING,
        )?,
        axi_ports: hbm.axi_ports,
        weight_layout: hbm.weight_layout,
        activation_layout: hbm.activation_layout,
    };

    let vector_units = whole("vector.units", raw.vector.units, limits::VECTOR_UNITS)?;
    let vector_lanes = whole("vector.lanes", raw.vector.lanes, limits::VECTOR_LANES)?;
    let vector_chunk_bytes = whole(
        "vector.chunk_bytes",
        raw.vector.chunk_bytes,
        limits::CHUNK_BYTES,
    )?;
    let pool = |name: &str, index: u64, model| Engine {
        name: format!("{name}{index}"),
        group: name.to_string(),
        model,
        precision: precision.compute(),
        mac: MacKind::Dsp,
        slr: None,
        port: index,
        tiling: None,
        chunk_order: LoopOrder::Mnk,
    };
    let mut engines: Vec<Engine> = (0..array_count)
        .map(|i| pool("array", i, EngineModel::Systolic(array)))
        .chain((0..vector_units).map(|i| {
            let model = EngineModel::Vector {
                lanes: vector_lanes,
                depth_cycles: 0,
                interval_cycles: 1,
            };
            pool("vector", i, model)
        }))
        .collect();
    let named_tile = |prefix: &str, t: &RawTile| tile(prefix, t.tm, t.tn, t.tk, t.loop_order);
    engines.extend(engines::validate_engines(
        &raw.engines,
        file,
        precision.compute(),
        (array_count, vector_units),
        named_tile,
    )?);
    if !engines.iter().any(Engine::runs_gemms) {
        return Err(invalid(
            "arrays.count",
            "is 0 and no [[engines]] entry is systolic or dot: nothing runs the GEMMs".into(),
        ));
    }
    let mapping = engines::validate_mapping(&raw.mapping, &engines, file)?;
    let links = links::validate_links(&raw.links, raw.schedule, file)?;
    control::validate_control(&raw.control, raw.schedule, file)?;

    let largest = std::iter::once(tiling)
        .chain(class_tilings.iter().flatten().copied())
        .max_by_key(|t| Design::tile_buffer_bytes(t, precision).iter().sum::<u64>())
        .expect("the default tiling is there");
    let demand = resources::Demand {
        engines: &engines,
        largest,
        precision,
        buffer_slots,
        buffers: raw.buffers.memory,
        vector_chunk_bytes,
        dsp_packing: raw.dsp_packing,
        pool: (array_count, (array.rows, array.cols), vector_units),
    };
    let (resources, slrs) = resources::check(&demand, platform, file, raw.engines.is_empty())?;
    Ok(Design {
        raw: raw.clone(),
        source: file.to_string(),
        clock_hz: clock_mhz * 1e6,
        precision,
        array,
        tiling,
        class_tilings,
        placement,
        fusion: raw.fusion,
        resources,
        slrs,
        engines,
        mapping,
        links,
    })
}

/// The built-in INT8 design shipped in `configs/designs/`.
pub const DEFAULT_DESIGN: &str = include_str!("../../../configs/designs/u280-int8.toml");

#[cfg(test)]
mod tests;
