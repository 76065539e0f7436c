//! An accelerator design: systolic arrays, vector units, tiling, buffers, HBM placement.
//! Validated against a platform: a design that does not fit the board is rejected here.

use super::platform::Platform;
use super::precision::PrecisionPair;
use super::{ConfigError, Source, parse_toml};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawDesign {
    pub name: String,
    pub clock_mhz: f64,
    pub precision: String,
    pub memory: MemoryModel,
    pub arrays: RawArrays,
    pub vector: RawVector,
    pub tiling: RawTiling,
    pub buffers: RawBuffers,
    pub hbm: RawPlacement,
    pub fusion: RawFusion,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawArrays {
    pub count: u64,
    pub rows: u64,
    pub cols: u64,
    pub dataflow: Dataflow,
    /// Whether a fold starts while the previous one drains (false: SCALE-Sim's model).
    #[serde(default)]
    pub overlap_folds: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawVector {
    pub units: u64,
    pub lanes: u64,
    pub chunk_bytes: u64,
}

/// The default GEMM tile, and optional tiles for one class of GEMMs each.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawTiling {
    pub tm: u64,
    pub tn: u64,
    pub tk: u64,
    pub loop_order: LoopOrder,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projection: Option<RawTile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention: Option<RawTile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mlp: Option<RawTile>,
}

/// Tiles of one kernel class.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawTile {
    pub tm: u64,
    pub tn: u64,
    pub tk: u64,
    pub loop_order: LoopOrder,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawBuffers {
    pub slots: u64,
    pub memory: SramKind,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlacement {
    pub weight_channels: [u64; 2],
    pub activation_channels: [u64; 2],
    pub stripe_bytes: u64,
    pub burst_bytes: u64,
    pub outstanding_requests: u64,
    pub axi_ports: AxiPorts,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawFusion {
    pub gemm_activation: bool,
    pub qkv: bool,
    pub attention: bool,
}

/// Which kernels are fused; a fused intermediate never reaches HBM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fusion {
    /// The MLP activation runs in the epilogue of its GEMM (FC1 + bias + GELU; SiLU in the
    /// gate GEMM, `× up` in the up GEMM). Biases are always added in the GEMM epilogue.
    pub gemm_activation: bool,
    /// Q, K and V come from one GEMM over concatenated weights.
    pub qkv: bool,
    /// Scores, softmax and context in one kernel that keeps the scores on chip.
    pub attention: bool,
}

/// Which operand stays in the processing elements while the others stream through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dataflow {
    /// Output stationary.
    Os,
    /// Weight stationary.
    Ws,
    /// Input stationary.
    Is,
}

impl Dataflow {
    pub const ALL: [Dataflow; 3] = [Dataflow::Os, Dataflow::Ws, Dataflow::Is];

    pub fn name(self) -> &'static str {
        match self {
            Dataflow::Os => "os",
            Dataflow::Ws => "ws",
            Dataflow::Is => "is",
        }
    }
}

impl std::str::FromStr for Dataflow {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Dataflow::ALL
            .into_iter()
            .find(|dataflow| dataflow.name() == text)
            .ok_or_else(|| format!("unknown dataflow `{text}` (expected os, ws or is)"))
    }
}

/// Order of the tile loops; the reduction loop is always innermost so partial sums stay on chip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LoopOrder {
    /// Rows of the output outer: an activation tile is reused across output columns.
    Mnk,
    /// Columns outer: a weight tile is reused across output rows.
    Nmk,
}

/// Whether memory is the modelled HBM or unlimited bandwidth with zero latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MemoryModel {
    Hbm,
    Ideal,
}

/// The families of GEMMs a design may tile differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KernelClass {
    /// Patch embedding, Q/K/V/O and connector projections.
    Projection,
    /// Attention scores and context (or fused attention).
    Attention,
    /// MLP up/gate and down projections.
    Mlp,
}

impl KernelClass {
    pub const ALL: [KernelClass; 3] = [
        KernelClass::Projection,
        KernelClass::Attention,
        KernelClass::Mlp,
    ];

    pub fn name(self) -> &'static str {
        match self {
            KernelClass::Projection => "projection",
            KernelClass::Attention => "attention",
            KernelClass::Mlp => "mlp",
        }
    }
}

/// Where the accelerator's AXI masters enter the HBM switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AxiPorts {
    /// One master per pseudo-channel at that channel's own port: no switch crossing.
    PerChannel,
    /// Array (and vector unit) `u` sits on mini-switch `u`; other channels are crossings.
    PerUnit,
}

/// Which block memory holds the tile buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SramKind {
    Bram,
    Uram,
}

/// One systolic array shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArrayShape {
    pub rows: u64,
    pub cols: u64,
    pub dataflow: Dataflow,
    /// Consecutive folds of a tile pipeline: fill and drain are paid once per tile.
    pub overlap_folds: bool,
}

/// A GEMM tile and loop order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tiling {
    pub tm: u64,
    pub tn: u64,
    pub tk: u64,
    pub loop_order: LoopOrder,
}

/// How tensors are spread over HBM pseudo-channels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub weight_channels: Vec<u64>,
    pub activation_channels: Vec<u64>,
    /// Consecutive bytes on one channel before the next channel of the set.
    pub stripe_bytes: u64,
    /// Largest request; a contiguous run is cut into bursts of at most this size.
    pub burst_bytes: u64,
    /// Requests one channel port keeps in flight.
    pub outstanding_requests: u64,
    pub axi_ports: AxiPorts,
}

/// Resources a design takes from the platform.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResourceUse {
    pub dsps: u64,
    pub bram_blocks: u64,
    pub uram_blocks: u64,
}

/// A validated design.
#[derive(Debug, Clone, PartialEq)]
pub struct Design {
    pub source: String,
    pub name: String,
    pub clock_hz: f64,
    pub precision: PrecisionPair,
    pub memory: MemoryModel,
    pub array_count: u64,
    pub array: ArrayShape,
    pub vector_units: u64,
    pub vector_lanes: u64,
    /// Bytes of one input a vector pass streams at a time (its line buffer).
    pub vector_chunk_bytes: u64,
    /// Default GEMM tiling; also sizes the vector units' chunks.
    pub tiling: Tiling,
    /// Per-class tilings, indexed like [`KernelClass::ALL`]; `None` takes the default.
    pub class_tilings: [Option<Tiling>; 3],
    pub buffer_slots: u64,
    pub buffer_memory: SramKind,
    pub placement: Placement,
    pub fusion: Fusion,
    pub resources: ResourceUse,
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

    /// MACs all arrays complete per cycle.
    pub fn macs_per_cycle(&self) -> u64 {
        self.array_count * self.array.rows * self.array.cols
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
    let positive = |field: &str, value: u64| {
        if value == 0 {
            Err(invalid(field, "must be at least 1".into()))
        } else {
            Ok(value)
        }
    };
    let precision: PrecisionPair = raw
        .precision
        .parse()
        .map_err(|rule| invalid("precision", rule))?;
    if !(raw.clock_mhz.is_finite() && raw.clock_mhz > 0.0) {
        return Err(invalid("clock_mhz", "must be a positive number".into()));
    }
    let array = ArrayShape {
        rows: positive("arrays.rows", raw.arrays.rows)?,
        cols: positive("arrays.cols", raw.arrays.cols)?,
        dataflow: raw.arrays.dataflow,
        overlap_folds: raw.arrays.overlap_folds,
    };
    let array_count = positive("arrays.count", raw.arrays.count)?;
    let tile = |prefix: &str, tile: &RawTile| -> Result<Tiling, ConfigError> {
        Ok(Tiling {
            tm: positive(&format!("{prefix}.tm"), tile.tm)?,
            tn: positive(&format!("{prefix}.tn"), tile.tn)?,
            tk: positive(&format!("{prefix}.tk"), tile.tk)?,
            loop_order: tile.loop_order,
        })
    };
    let raw_tiling = &raw.tiling;
    let tiling = tile(
        "tiling",
        &RawTile {
            tm: raw_tiling.tm,
            tn: raw_tiling.tn,
            tk: raw_tiling.tk,
            loop_order: raw_tiling.loop_order,
        },
    )?;
    let mut class_tilings = [None; 3];
    for (class, raw_tile) in KernelClass::ALL.into_iter().zip([
        &raw_tiling.projection,
        &raw_tiling.attention,
        &raw_tiling.mlp,
    ]) {
        if let Some(raw_tile) = raw_tile {
            class_tilings[class as usize] =
                Some(tile(&format!("tiling.{}", class.name()), raw_tile)?);
        }
    }
    let buffer_slots = positive("buffers.slots", raw.buffers.slots)?;
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
    let placement = Placement {
        weight_channels: channels("hbm.weight_channels", raw.hbm.weight_channels)?,
        activation_channels: channels("hbm.activation_channels", raw.hbm.activation_channels)?,
        stripe_bytes: positive("hbm.stripe_bytes", raw.hbm.stripe_bytes)?,
        burst_bytes: positive("hbm.burst_bytes", raw.hbm.burst_bytes)?,
        outstanding_requests: positive("hbm.outstanding_requests", raw.hbm.outstanding_requests)?,
        axi_ports: raw.hbm.axi_ports,
    };

    // DSPs: one MAC unit per PE, packed as the platform allows at the compute precision.
    let macs_per_dsp = platform.macs_per_dsp(precision.compute());
    let pes = array_count * array.rows * array.cols;
    let dsps = (pes as f64 / macs_per_dsp).ceil() as u64;
    if dsps > platform.dsp_slices {
        return Err(invalid(
            "arrays",
            format!(
                "{array_count} arrays of {}x{} need {dsps} DSPs at {}; the platform has {}",
                array.rows,
                array.cols,
                precision.compute(),
                platform.dsp_slices
            ),
        ));
    }
    // Buffers: slots × (A + B + C) per array for the largest tile of any class, in whole blocks.
    let largest = std::iter::once(tiling)
        .chain(class_tilings.iter().flatten().copied())
        .max_by_key(|t| Design::tile_buffer_bytes(t, precision).iter().sum::<u64>())
        .expect("the default tiling is there");
    let tiling_bytes: u64 = Design::tile_buffer_bytes(&largest, precision).iter().sum();
    let buffer_bytes = array_count * buffer_slots * tiling_bytes;
    let (block_bytes, available, field) = match raw.buffers.memory {
        SramKind::Bram => (
            platform.sram.bram_block_bytes,
            platform.sram.bram_blocks,
            "buffers.memory",
        ),
        SramKind::Uram => (
            platform.sram.uram_block_bytes,
            platform.sram.uram_blocks,
            "buffers.memory",
        ),
    };
    let blocks = buffer_bytes.div_ceil(block_bytes);
    if blocks > available {
        return Err(invalid(
            field,
            format!(
                "tiles {}x{}x{} with {buffer_slots} slot(s) on {array_count} arrays need \
                 {buffer_bytes} bytes = {blocks} blocks; the platform has {available}",
                largest.tm, largest.tn, largest.tk
            ),
        ));
    }
    let (tile_bram_blocks, uram_blocks) = match raw.buffers.memory {
        SramKind::Bram => (blocks, 0),
        SramKind::Uram => (0, blocks),
    };
    // Vector line buffers in BRAM: two inputs and one output per slot per unit.
    let vector_units = positive("vector.units", raw.vector.units)?;
    let vector_chunk_bytes = positive("vector.chunk_bytes", raw.vector.chunk_bytes)?;
    let vector_bytes = vector_units * buffer_slots * 3 * vector_chunk_bytes;
    let bram_blocks = tile_bram_blocks + vector_bytes.div_ceil(platform.sram.bram_block_bytes);
    if bram_blocks > platform.sram.bram_blocks {
        return Err(invalid(
            "vector.chunk_bytes",
            format!(
                "line buffers of {vector_bytes} bytes and tile buffers need {bram_blocks} BRAM \
                 blocks; the platform has {}",
                platform.sram.bram_blocks
            ),
        ));
    }
    Ok(Design {
        source: file.to_string(),
        name: raw.name.clone(),
        clock_hz: raw.clock_mhz * 1e6,
        precision,
        memory: raw.memory,
        array_count,
        array,
        vector_units,
        vector_lanes: positive("vector.lanes", raw.vector.lanes)?,
        vector_chunk_bytes,
        tiling,
        class_tilings,
        buffer_slots,
        buffer_memory: raw.buffers.memory,
        placement,
        fusion: Fusion {
            gemm_activation: raw.fusion.gemm_activation,
            qkv: raw.fusion.qkv,
            attention: raw.fusion.attention,
        },
        resources: ResourceUse {
            dsps,
            bram_blocks,
            uram_blocks,
        },
    })
}

/// The built-in INT8 design shipped in `configs/designs/`.
pub const DEFAULT_DESIGN: &str = include_str!("../../configs/designs/u280-int8.toml");

impl Design {
    /// This design cut down to one array (of `shape`, if given) for a lone GEMM. With ideal
    /// memory the whole GEMM is one tile, so the cycle count is the array model's alone.
    pub fn single_array(
        &self,
        shape: Option<ArrayShape>,
        ideal_memory: bool,
        gemm: (u64, u64, u64),
    ) -> Design {
        let mut design = self.clone();
        design.array_count = 1;
        if let Some(shape) = shape {
            design.array = shape;
        }
        if ideal_memory {
            design.memory = MemoryModel::Ideal;
            let (m, n, k) = gemm;
            design.tiling = Tiling {
                tm: m,
                tn: n,
                tk: k,
                loop_order: design.tiling.loop_order,
            };
            design.class_tilings = [None; 3];
        }
        design
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::platform::default_platform;

    fn design(text: &str) -> Result<Design, ConfigError> {
        load_design(&Source::built_in("d.toml", text), &default_platform())
    }

    #[test]
    fn default_design_fits_the_u280() {
        let design = design(DEFAULT_DESIGN).unwrap();
        let platform = default_platform();
        assert!(
            design.resources.dsps * 4 <= platform.dsp_slices * 3,
            "≤ 75 % of DSPs"
        );
        assert!(design.resources.uram_blocks * 4 <= platform.sram.uram_blocks * 3);
    }

    #[test]
    fn too_many_arrays_are_rejected() {
        let text = DEFAULT_DESIGN.replace("count = 3", "count = 30");
        let error = design(&text).unwrap_err().to_string();
        assert!(
            error.contains("`arrays`") && error.contains("DSPs"),
            "{error}"
        );
    }

    #[test]
    fn a_tile_that_does_not_fit_its_buffer_is_rejected() {
        let text = DEFAULT_DESIGN.replace("tm = 512", "tm = 65536");
        let error = design(&text).unwrap_err().to_string();
        assert!(error.contains("buffers.memory"), "{error}");
    }

    #[test]
    fn channels_outside_the_platform_are_rejected() {
        let text = DEFAULT_DESIGN.replace(
            "activation_channels = [16, 31]",
            "activation_channels = [16, 32]",
        );
        let error = design(&text).unwrap_err().to_string();
        assert!(error.contains("hbm.activation_channels"), "{error}");
    }
}
