//! The FPGA board: fabric clock, DSPs and their MACs per precision, HBM, on-chip SRAM, DDR.

use super::Source;
use super::dram::{DramTiming, RawDram};
use super::precision::Precision;
use serde::Deserialize;

mod load;
pub use load::{limits, load_platform};

/// The JSON Schema of a platform file, from the type it is read into.
pub(crate) fn file_schema() -> schemars::Schema {
    schemars::schema_for!(RawPlatform)
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawPlatform {
    /// The board's name, printed in reports.
    name: String,
    /// The clock designs on the board target, in MHz. Range: 1–1000.
    clock_mhz: f64,
    /// DSP slices of the kernel region. Range: 1–1,000,000.
    dsp_slices: u64,
    macs_per_dsp: RawMacsPerDsp,
    hbm: RawHbm,
    sram: RawSram,
    ddr: RawDdr,
    /// The super logic regions, each what it leaves a design (`[[slrs]]`, 1–8 entries, their
    /// DSPs and blocks adding up to at most the chip's); one region of the whole chip when
    /// absent.
    #[serde(default)]
    slrs: Vec<SlrBudget>,
    #[serde(default)]
    slr_crossings: Option<RawCrossings>,
    #[serde(default)]
    logic: Option<LogicCost>,
    power: Option<RawPower>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawCrossings {
    /// Super long lines between two neighbouring SLRs. Range: 1–2^20.
    slls_per_boundary: u64,
    /// Lines an engine's path to the HBM ports (in SLR0) takes at each boundary it crosses.
    /// Range: 1–2^16.
    hbm_port_slls: u64,
}

/// LUTs and flip-flops of the engines' ordinary logic: a DSP-based engine's (operand
/// registers, adder pipelines, control) per DSP it uses, a vector engine's per lane.
#[derive(
    Debug, Clone, Copy, PartialEq, Default, Deserialize, schemars::JsonSchema, serde::Serialize,
)]
#[serde(deny_unknown_fields)]
pub struct LogicCost {
    /// LUTs of a DSP-based engine's ordinary logic (operand registers, adder pipelines,
    /// control) per DSP it uses. Range: 0–10,000.
    pub luts_per_dsp: f64,
    /// Flip-flops of a DSP-based engine's ordinary logic per DSP it uses. Range: 0–10,000.
    pub ffs_per_dsp: f64,
    /// LUTs per lane of a vector engine (its datapath in fabric). Range: 0–100,000.
    #[serde(default)]
    pub luts_per_vector_lane: f64,
    /// Flip-flops per lane of a vector engine. Range: 0–100,000.
    #[serde(default)]
    pub ffs_per_vector_lane: f64,
}

/// Super long lines between neighbouring SLRs, and what an engine's HBM path takes of them
/// (the HBM ports sit in SLR0, so an engine above it crosses every boundary below it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SlrCrossings {
    /// Super long lines between two neighbouring SLRs.
    pub slls_per_boundary: u64,
    /// Lines an engine's HBM path takes at each boundary it crosses.
    pub hbm_port_slls: u64,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawPower {
    /// `[low, high]` watts of the board with its shell, whatever the design does. Range: 0–1000
    /// each, low ≤ high.
    static_w: [f64; 2],
    /// `[low, high]` picojoules per byte moved to or from HBM. Range: 0–10,000 each, low ≤
    /// high.
    hbm_pj_per_byte: [f64; 2],
    /// `[low, high]` milliwatts of one busy DSP slice at 300 MHz (scaled with the clock).
    /// Range: 0–100 each, low ≤ high.
    dsp_mw_at_300_mhz: [f64; 2],
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawMacsPerDsp {
    /// MACs one DSP slice completes per cycle at INT4 (packed). Range: 0.01–64.
    int4: f64,
    /// MACs one DSP slice completes per cycle at INT8 (packed). Range: 0.01–64.
    int8: f64,
    /// MACs one DSP slice completes per cycle at FP16. Range: 0.01–64.
    fp16: f64,
    /// MACs one DSP slice completes per cycle at BF16. Range: 0.01–64.
    bf16: f64,
    /// MACs one DSP slice completes per cycle at FP32. Range: 0.01–64.
    fp32: f64,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawHbm {
    /// Bytes of HBM; weights, caches and activations must fit. Range: 1–2^50.
    capacity_bytes: u64,
    /// Pseudo-channels. Range: 1–256.
    channels: u64,
    /// Peak of one pseudo-channel, GB/s. Range: 0.001–10,000.
    channel_bandwidth_gb_per_s: f64,
    /// What one pseudo-channel sustains on long sequential bursts, GB/s. Range: 0.001–10,000,
    /// and at most `channel_bandwidth_gb_per_s`.
    measured_channel_bandwidth_gb_per_s: f64,
    /// Idle read latency of a request, ns. Range: 0–10^6.
    access_latency_ns: f64,
    /// Fixed channel time per request besides its data beats, ns. Range: 0–10^6.
    request_overhead_ns: f64,
    /// Shortest channel time per request (the controller's request rate), ns. Range: 0–10^6.
    request_interval_ns: f64,
    /// Time between two refreshes of a channel, ns. Range: 100–10^9.
    refresh_interval_ns: f64,
    /// Time a refresh blocks its channel, ns. Range: 0–10^6, and below `refresh_interval_ns`.
    refresh_ns: f64,
    /// Ports and pseudo-channels per mini-switch of the AXI switch, 1 to `hbm.channels`.
    channels_per_switch: u64,
    /// Lateral links joining neighbouring mini-switches in each direction, each carrying one
    /// port's bandwidth. Range: 1–16.
    lateral_links: u64,
    /// Latency added per mini-switch crossed, ns. Range: 0–10^6.
    switch_hop_latency_ns: f64,
    /// The bank-level model's organisation and timing (`[hbm.dram]`), needed by designs with
    /// `memory = "dram"`.
    dram: Option<RawDram>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawSram {
    /// Block RAMs (RAMB36) of the kernel region. Range: 0–1,000,000.
    bram_blocks: u64,
    /// Bits of one block RAM, a whole number of bytes. Range: 8–2^24.
    bram_block_bits: u64,
    /// Width of one block RAM port in bits. Range: 1–1024.
    bram_port_bits: u64,
    /// UltraRAM blocks of the kernel region. Range: 0–1,000,000.
    uram_blocks: u64,
    /// Bits of one UltraRAM, a whole number of bytes. Range: 8–2^24.
    uram_block_bits: u64,
    /// Width of one UltraRAM port in bits. Range: 1–1024.
    uram_port_bits: u64,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawDdr {
    /// DDR channels (read and checked; no model uses DDR yet). Range: 0–64.
    channels: u64,
    /// Peak of one DDR channel, GB/s. Range: 0.001–10,000.
    channel_bandwidth_gb_per_s: f64,
    /// Bytes of DDR. Range: 0–2^50.
    capacity_bytes: u64,
}

/// High-bandwidth memory: independent pseudo-channels of equal bandwidth.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Hbm {
    /// Bytes of HBM.
    pub capacity_bytes: u64,
    /// Pseudo-channels.
    pub channels: u64,
    /// Peak of one pseudo-channel.
    pub channel_bandwidth_bytes_per_s: f64,
    /// What one channel sustains on long sequential bursts, as measured on real boards.
    pub measured_channel_bandwidth_bytes_per_s: f64,
    /// Idle read latency of one request.
    pub access_latency_s: f64,
    /// Fixed channel time per request besides its data beats.
    pub request_overhead_s: f64,
    /// Shortest channel time per request (the controller's request rate).
    pub request_interval_s: f64,
    /// A refresh takes the channel away for `refresh_s` every `refresh_interval_s`.
    pub refresh_interval_s: f64,
    /// How long a refresh takes the channel away, s.
    pub refresh_s: f64,
    /// Ports and channels per mini-switch of the AXI switch.
    pub channels_per_switch: u64,
    /// Lateral links joining neighbouring mini-switches in each direction, each carrying one
    /// port's bandwidth.
    pub lateral_links: u64,
    /// Latency added per mini-switch crossed.
    pub switch_hop_latency_s: f64,
    /// The bank-level model's organisation and timing (`memory = "dram"`), when given.
    pub dram: Option<DramTiming>,
}

impl Hbm {
    /// Sum of the channels' peaks.
    pub fn peak_bandwidth_bytes_per_s(&self) -> f64 {
        self.channel_bandwidth_bytes_per_s * self.channels as f64
    }

    /// Sum of the channels' measured sustained bandwidths.
    pub fn measured_bandwidth_bytes_per_s(&self) -> f64 {
        self.measured_channel_bandwidth_bytes_per_s * self.channels as f64
    }
}

/// What one SLR (super logic region) leaves a design: the DSPs and block memories of its
/// part of the kernel region.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema, serde::Serialize,
)]
#[serde(deny_unknown_fields)]
pub struct SlrBudget {
    /// DSP slices of the SLR's part of the kernel region. Range: 0–1,000,000.
    pub dsp_slices: u64,
    /// Block RAMs (RAMB36) of the SLR's part. Range: 0–1,000,000.
    pub bram_blocks: u64,
    /// UltraRAM blocks of the SLR's part. Range: 0–1,000,000.
    pub uram_blocks: u64,
    /// LUTs of the SLR's kernel region; 0 when the platform does not say (then no engine may
    /// build its multipliers from LUTs there). Range: 0–10^8.
    #[serde(default)]
    pub luts: u64,
    /// Flip-flops of the SLR's kernel region; 0 when the platform does not say. Range: 0–10^8.
    #[serde(default)]
    pub ffs: u64,
}

/// The power model's inputs, each a range (low, high): the board's static power with a
/// design loaded, HBM energy per byte moved, and a busy DSP's dynamic power at 300 MHz.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct PowerInputs {
    /// Watts of the board whatever the design does (low, high).
    pub static_w: (f64, f64),
    /// Joules per byte moved to or from HBM (low, high).
    pub hbm_j_per_byte: (f64, f64),
    /// Watts of one busy DSP slice at 300 MHz (low, high).
    pub dsp_w_at_300_mhz: (f64, f64),
}

/// On-chip block memories.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Sram {
    /// Block RAMs of the kernel region.
    pub bram_blocks: u64,
    /// Bytes of one block RAM.
    pub bram_block_bytes: u64,
    /// Widest read port of one block: a buffer that must deliver W bits per cycle needs
    /// `⌈W / port_bits⌉` blocks side by side, whatever its capacity.
    pub bram_port_bits: u64,
    /// UltraRAMs of the kernel region.
    pub uram_blocks: u64,
    /// Bytes of one UltraRAM.
    pub uram_block_bytes: u64,
    /// Width of one UltraRAM port, bits.
    pub uram_port_bits: u64,
}

impl Sram {
    /// Bytes of every block RAM.
    pub fn bram_bytes(&self) -> u64 {
        self.bram_blocks * self.bram_block_bytes
    }

    /// Bytes of every UltraRAM.
    pub fn uram_bytes(&self) -> u64 {
        self.uram_blocks * self.uram_block_bytes
    }

    /// Bytes of on-chip block memory in all.
    pub fn total_bytes(&self) -> u64 {
        self.bram_bytes() + self.uram_bytes()
    }
}

/// Off-chip DDR (holds what does not fit HBM).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Ddr {
    /// DDR channels (no model uses DDR yet).
    pub channels: u64,
    /// Peak of one DDR channel, bytes/s.
    pub channel_bandwidth_bytes_per_s: f64,
    /// Bytes of DDR.
    pub capacity_bytes: u64,
}

/// A validated platform: every rate positive, every count non-zero.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Platform {
    /// Where it was read from.
    pub source: String,
    /// The board's name.
    pub name: String,
    /// The clock designs target, Hz.
    pub clock_hz: f64,
    /// DSP slices of the kernel region.
    pub dsp_slices: u64,
    /// MACs per DSP per cycle, indexed like [`Precision::ALL`].
    macs_per_dsp: [f64; 5],
    /// The high-bandwidth memory.
    pub hbm: Hbm,
    /// On-chip block memory.
    pub sram: Sram,
    /// The DDR memory.
    pub ddr: Ddr,
    /// Per SLR, in order (SLR0 holds the HBM ports); one covering the chip when the
    /// platform file lists none.
    pub slrs: Vec<SlrBudget>,
    /// `None` when the platform file does not say: crossings are not counted.
    pub slr_crossings: Option<SlrCrossings>,
    /// `None` when the platform file does not say: only LUT multipliers are counted.
    pub logic: Option<LogicCost>,
    /// `None` when the platform file gives no `[power]`: no power is reported.
    pub power: Option<PowerInputs>,
}

impl Platform {
    /// The platform with unbounded on-chip resources: one SLR whose DSPs, block memories,
    /// LUTs and flip-flops no single-array study can fill, and no boundaries to cross. For
    /// idealised runs (`simulate --gemm --ideal-memory`), which compare an array's timing
    /// with other simulators whatever it takes to build; its clock, HBM and power stay.
    pub fn with_unbounded_chip(&self) -> Platform {
        const UNBOUNDED: u64 = 1 << 40;
        Platform {
            source: format!("{} (on-chip resources unbounded)", self.source),
            dsp_slices: UNBOUNDED,
            sram: Sram {
                bram_blocks: UNBOUNDED,
                uram_blocks: UNBOUNDED,
                ..self.sram.clone()
            },
            slrs: vec![SlrBudget {
                dsp_slices: UNBOUNDED,
                bram_blocks: UNBOUNDED,
                uram_blocks: UNBOUNDED,
                luts: UNBOUNDED,
                ffs: UNBOUNDED,
            }],
            slr_crossings: None,
            ..self.clone()
        }
    }

    /// MACs one DSP completes per cycle at this compute precision.
    pub fn macs_per_dsp(&self, precision: Precision) -> f64 {
        let index = Precision::ALL
            .iter()
            .position(|&p| p == precision)
            .expect("ALL lists every precision");
        self.macs_per_dsp[index]
    }

    /// Compute roof: every DSP busy every cycle, 2 ops (multiply + add) per MAC.
    pub fn peak_ops_per_s(&self, precision: Precision) -> f64 {
        self.dsp_slices as f64 * self.macs_per_dsp(precision) * 2.0 * self.clock_hz
    }
}

/// The U280 platform file shipped in `configs/platforms/`.
pub const DEFAULT_PLATFORM: &str = include_str!("../../../configs/platforms/u280.toml");

/// The built-in platform: the Alveo U280.
pub fn default_platform() -> Platform {
    load_platform(&Source::built_in("u280.toml", DEFAULT_PLATFORM))
        .expect("the shipped platform config is valid")
}

#[cfg(test)]
mod tests;
