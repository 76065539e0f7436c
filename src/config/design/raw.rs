//! A design file as written: the tables and fields the TOML holds, before validation
//! ([`super::validate_design`] checks them against a platform).

use super::{
    ActivationLayout, AxiPorts, Control, Dataflow, Fusion, LoopOrder, MemoryModel, RawEngine,
    RawLink, Schedule, SramKind, WeightLayout,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A design file as written (see the guide's config-files chapter for every field).
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawDesign {
    /// The design's name, printed in reports and summaries (any text).
    pub name: String,
    /// The fabric clock the design runs at, in MHz. Range: 1–1000.
    pub clock_mhz: f64,
    /// Storage and compute precision: `int4`, `int8`, `fp16`, `bf16` or `fp32`; or `W/A`
    /// (weights / activations, e.g. `int4/int8`); or `W/A/KV` with the key/value cache's own
    /// (e.g. `int4/int8/fp16`).
    pub precision: String,
    /// Whether integer MACs share DSPs as RTL cores pack them (the platform's `macs_per_dsp`:
    /// two INT8 or four INT4 per DSP48E2); false: one MAC per DSP, as plain HLS maps them
    /// (WP486).
    #[serde(default = "packed")]
    pub dsp_packing: bool,
    /// The HBM model the simulation runs on: `hbm` (the fast model: per-channel servers),
    /// `dram` (the bank-level model; needs the platform's `[hbm.dram]`) or `ideal` (unlimited
    /// bandwidth, zero latency).
    pub memory: MemoryModel,
    /// The pool of systolic arrays (`[arrays]`).
    pub arrays: RawArrays,
    /// The pool of vector units (`[vector]`).
    pub vector: RawVector,
    /// The GEMM tiles (`[tiling]`).
    pub tiling: RawTiling,
    /// The engines' operand buffers (`[buffers]`).
    pub buffers: RawBuffers,
    /// Where tensors lie in HBM (`[hbm]`).
    pub hbm: RawPlacement,
    /// Which kernels are fused (`[fusion]`).
    pub fusion: Fusion,
    /// How kernels share the time line (`[schedule]`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub schedule: Schedule,
    /// What instruction-driven control costs (`[control]`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub control: Control,
    /// Named engines besides the pool (`[[engines]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub engines: Vec<RawEngine>,
    /// Which engines run which kernels: a kernel label (`text/softmax`) or class (`projection`,
    /// `attention`, `mlp`, `vector`) → names of `[[engines]]`; unmapped kernels run on the pool
    /// (`[arrays]`, `[vector]`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mapping: BTreeMap<String, Vec<String>>,
    /// On-chip links between kernels (`[[links]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<RawLink>,
}

/// The JSON Schema of a design file, from the type it is read into.
pub(crate) fn file_schema() -> schemars::Schema {
    schemars::schema_for!(RawDesign)
}

fn packed() -> bool {
    true
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// The `[arrays]` table: the pool's systolic arrays.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawArrays {
    /// Systolic arrays in the pool (the GEMM engines besides `[[engines]]`). Range: 0–1024, and
    /// 0 only beside a systolic or dot engine.
    pub count: u64,
    /// Processing-element rows of each pool array. Range: 1–4096.
    pub rows: u64,
    /// Processing-element columns of each pool array. Range: 1–4096.
    pub cols: u64,
    /// Which operand stays in the processing elements: `os` (outputs), `ws` (weights) or `is`
    /// (inputs), SCALE-Sim's dataflows.
    pub dataflow: Dataflow,
    /// Whether a fold starts while the previous one drains (false: SCALE-Sim's model).
    #[serde(default)]
    pub overlap_folds: bool,
}

/// The `[vector]` table: the pool's vector units.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawVector {
    /// Vector units in the pool (softmax, norms, element-wise kernels). Range: 1–1024.
    pub units: u64,
    /// Elements each vector unit processes per cycle. Range: 1–65,536.
    pub lanes: u64,
    /// A vector unit's line buffer: a vector kernel streams whole rows in chunks of at most
    /// this many bytes. Range: 1–2^30.
    pub chunk_bytes: u64,
}

/// The default GEMM tile, and optional tiles for one class of GEMMs each.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawTiling {
    /// Output rows of a GEMM tile. Range: 1–2^20.
    pub tm: u64,
    /// Output columns of a GEMM tile. Range: 1–2^20.
    pub tn: u64,
    /// Reduction depth of a GEMM tile. Range: 1–2^20.
    pub tk: u64,
    /// Order of the output-tile loops: `mnk` (rows outer), `nmk` (columns outer) or `mbnk` (row
    /// blocks, then instances: row-major across heads).
    pub loop_order: LoopOrder,
    /// Tiles of the projections (patch embedding, Q/K/V/O, connector).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projection: Option<RawTile>,
    /// Tiles of attention's scores and context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention: Option<RawTile>,
    /// Tiles of the MLP's GEMMs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mlp: Option<RawTile>,
}

/// Tiles of one kernel class.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawTile {
    /// Output rows of a GEMM tile. Range: 1–2^20.
    pub tm: u64,
    /// Output columns of a GEMM tile. Range: 1–2^20.
    pub tn: u64,
    /// Reduction depth of a GEMM tile. Range: 1–2^20.
    pub tk: u64,
    /// Order of the output-tile loops: `mnk` (rows outer), `nmk` (columns outer) or `mbnk` (row
    /// blocks, then instances: row-major across heads).
    pub loop_order: LoopOrder,
}

/// The `[buffers]` table.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawBuffers {
    /// Slots of each engine's operand buffers (2: double buffering). Range: 1–16.
    pub slots: u64,
    /// The block memory holding the tile buffers: `uram` or `bram`.
    pub memory: SramKind,
}

/// The `[hbm]` table: where weights and activations lie.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlacement {
    /// `[first, last]` HBM pseudo-channels the weights are striped over, within the platform's
    /// `hbm.channels`.
    pub weight_channels: [u64; 2],
    /// `[first, last]` HBM pseudo-channels the activations are striped over, within the
    /// platform's `hbm.channels`.
    pub activation_channels: [u64; 2],
    /// Consecutive bytes on one channel before the next channel of the set. Range: 1–2^30.
    pub stripe_bytes: u64,
    /// The largest request: a contiguous run is cut into bursts of at most this size. Range:
    /// 1–512 (AXI3: 16 beats of 32 bytes, PG276).
    pub burst_bytes: u64,
    /// Requests one channel port keeps in flight. Range: 1–1024.
    pub outstanding_requests: u64,
    /// Where the AXI masters enter the HBM switch: `per_channel` (each channel's own port) or
    /// `per_unit` (engine `u` on mini-switch `u`, other channels across the switch).
    pub axi_ports: AxiPorts,
    /// How weights lie in HBM: `row_major` (default) or `tile_major` (each tile the GEMM reads
    /// contiguous).
    #[serde(default, skip_serializing_if = "is_default")]
    pub weight_layout: WeightLayout,
    /// How activations and the key/value cache lie in HBM: `row_major` (default) or
    /// `head_major` (tensors split into heads stored head after head).
    #[serde(default, skip_serializing_if = "is_default")]
    pub activation_layout: ActivationLayout,
}
