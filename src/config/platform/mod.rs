//! The FPGA board: fabric clock, DSPs and their MACs per precision, HBM, on-chip SRAM, DDR.

use super::dram::{DramTiming, RawDram};
use super::precision::Precision;
use super::{ConfigError, Source, in_range, parse_toml};
use serde::Deserialize;
use std::ops::RangeInclusive;

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

const GB: f64 = 1e9;

/// Valid ranges of the platform's fields (documented in docs/src/commands.md). Wide enough
/// for any FPGA board; narrow enough that no product of them overflows.
pub mod limits {
    use std::ops::RangeInclusive;
    /// The clock, MHz.
    pub const CLOCK_MHZ: RangeInclusive<f64> = 1.0..=1000.0;
    /// DSP slices of the kernel region.
    pub const DSP_SLICES: RangeInclusive<u64> = 1..=1_000_000;
    /// DSP slices of one SLR.
    pub const DSP_SLICES_PER_SLR: RangeInclusive<u64> = 0..=1_000_000;
    /// LUTs or flip-flops of one SLR (a VU13P has 1.7 M LUTs in all).
    pub const FABRIC_CELLS: RangeInclusive<u64> = 0..=100_000_000;
    /// MACs per DSP slice per cycle.
    pub const MACS_PER_DSP: RangeInclusive<f64> = 0.01..=64.0;
    /// Bytes of HBM.
    pub const HBM_CAPACITY_BYTES: RangeInclusive<u64> = 1..=1 << 50;
    /// HBM pseudo-channels.
    pub const HBM_CHANNELS: RangeInclusive<u64> = 1..=256;
    /// A channel's bandwidth, GB/s.
    pub const CHANNEL_GB_PER_S: RangeInclusive<f64> = 0.001..=10_000.0;
    /// Latencies and overheads, ns.
    pub const LATENCY_NS: RangeInclusive<f64> = 0.0..=1e6;
    /// The refresh interval, ns.
    pub const REFRESH_INTERVAL_NS: RangeInclusive<f64> = 100.0..=1e9;
    /// Block RAMs or UltraRAMs.
    pub const SRAM_BLOCKS: RangeInclusive<u64> = 0..=1_000_000;
    /// Bits of one block.
    pub const SRAM_BLOCK_BITS: RangeInclusive<u64> = 8..=1 << 24;
    /// DDR channels.
    pub const DDR_CHANNELS: RangeInclusive<u64> = 0..=64;
    /// Bytes of DDR.
    pub const DDR_CAPACITY_BYTES: RangeInclusive<u64> = 0..=1 << 50;
    /// `[[slrs]]` entries.
    pub const SLRS: RangeInclusive<usize> = 1..=8;
    /// Static power, W.
    pub const STATIC_W: RangeInclusive<f64> = 0.0..=1000.0;
    /// HBM energy, pJ per byte.
    pub const PJ_PER_BYTE: RangeInclusive<f64> = 0.0..=10_000.0;
    /// A DSP slice's power at 300 MHz, mW.
    pub const DSP_MW: RangeInclusive<f64> = 0.0..=100.0;
}

/// Reads and validates a platform TOML.
pub fn load_platform(source: &Source) -> Result<Platform, ConfigError> {
    let raw: RawPlatform = parse_toml(source)?;
    let file = source.name.as_str();
    let whole = |field: &str, value: u64, range| in_range(file, field, value, range);
    let number = |field: &str, value: f64, range| in_range(file, field, value, range);
    let macs = &raw.macs_per_dsp;
    let macs_per_dsp = [
        number("macs_per_dsp.int4", macs.int4, limits::MACS_PER_DSP)?,
        number("macs_per_dsp.int8", macs.int8, limits::MACS_PER_DSP)?,
        number("macs_per_dsp.fp16", macs.fp16, limits::MACS_PER_DSP)?,
        number("macs_per_dsp.bf16", macs.bf16, limits::MACS_PER_DSP)?,
        number("macs_per_dsp.fp32", macs.fp32, limits::MACS_PER_DSP)?,
    ];
    let hbm = &raw.hbm;
    let peak = number(
        "hbm.channel_bandwidth_gb_per_s",
        hbm.channel_bandwidth_gb_per_s,
        limits::CHANNEL_GB_PER_S,
    )?;
    let measured = number(
        "hbm.measured_channel_bandwidth_gb_per_s",
        hbm.measured_channel_bandwidth_gb_per_s,
        limits::CHANNEL_GB_PER_S,
    )?;
    if measured > peak {
        return Err(ConfigError::invalid(
            file,
            "hbm.measured_channel_bandwidth_gb_per_s",
            format!("{measured} GB/s exceeds the channel peak of {peak} GB/s"),
        ));
    }
    let nanoseconds =
        |field: &str, value: f64| Ok(number(field, value, limits::LATENCY_NS)? * 1e-9);
    let refresh_interval_ns = number(
        "hbm.refresh_interval_ns",
        hbm.refresh_interval_ns,
        limits::REFRESH_INTERVAL_NS,
    )?;
    let refresh_s = nanoseconds("hbm.refresh_ns", hbm.refresh_ns)?;
    if refresh_s * 1e9 >= refresh_interval_ns {
        return Err(ConfigError::invalid(
            file,
            "hbm.refresh_ns",
            "must be shorter than hbm.refresh_interval_ns",
        ));
    }
    let channels = whole("hbm.channels", hbm.channels, limits::HBM_CHANNELS)?;
    let block_bytes = |field: &str, bits: u64| {
        whole(field, bits, limits::SRAM_BLOCK_BITS)?;
        if bits.is_multiple_of(8) {
            Ok(bits / 8)
        } else {
            Err(ConfigError::invalid(
                file,
                field,
                "must be a whole number of bytes",
            ))
        }
    };
    let dsp_slices = whole("dsp_slices", raw.dsp_slices, limits::DSP_SLICES)?;
    let chip = SlrBudget {
        dsp_slices,
        bram_blocks: raw.sram.bram_blocks,
        uram_blocks: raw.sram.uram_blocks,
        luts: 0,
        ffs: 0,
    };
    let slrs = if raw.slrs.is_empty() {
        vec![chip]
    } else {
        in_range(file, "slrs", raw.slrs.len(), limits::SLRS)?;
        for slr in &raw.slrs {
            whole(
                "slrs.dsp_slices",
                slr.dsp_slices,
                limits::DSP_SLICES_PER_SLR,
            )?;
            whole("slrs.bram_blocks", slr.bram_blocks, limits::SRAM_BLOCKS)?;
            whole("slrs.uram_blocks", slr.uram_blocks, limits::SRAM_BLOCKS)?;
            whole("slrs.luts", slr.luts, limits::FABRIC_CELLS)?;
            whole("slrs.ffs", slr.ffs, limits::FABRIC_CELLS)?;
        }
        let sum = |f: fn(&SlrBudget) -> u64| raw.slrs.iter().map(f).sum::<u64>();
        for (name, total, available) in [
            ("dsp_slices", sum(|s| s.dsp_slices), chip.dsp_slices),
            ("bram_blocks", sum(|s| s.bram_blocks), chip.bram_blocks),
            ("uram_blocks", sum(|s| s.uram_blocks), chip.uram_blocks),
        ] {
            if total > available {
                return Err(ConfigError::invalid(
                    file,
                    format!("slrs.{name}"),
                    format!("the SLRs' {total} exceed the chip's {available}"),
                ));
            }
        }
        raw.slrs
    };
    let range = |field: &str, [low, high]: [f64; 2], limits: RangeInclusive<f64>| {
        in_range(file, field, low, limits.clone())?;
        in_range(file, field, high, limits)?;
        if low > high {
            return Err(ConfigError::invalid(
                file,
                field,
                format!("[low, high] with low {low} above high {high}"),
            ));
        }
        Ok((low, high))
    };
    let power = match &raw.power {
        Some(power) => Some(PowerInputs {
            static_w: range("power.static_w", power.static_w, limits::STATIC_W)?,
            hbm_j_per_byte: {
                let (low, high) = range(
                    "power.hbm_pj_per_byte",
                    power.hbm_pj_per_byte,
                    limits::PJ_PER_BYTE,
                )?;
                (low * 1e-12, high * 1e-12)
            },
            dsp_w_at_300_mhz: {
                let (low, high) = range(
                    "power.dsp_mw_at_300_mhz",
                    power.dsp_mw_at_300_mhz,
                    limits::DSP_MW,
                )?;
                (low * 1e-3, high * 1e-3)
            },
        }),
        None => None,
    };
    let capacity_bytes = whole(
        "hbm.capacity_bytes",
        hbm.capacity_bytes,
        limits::HBM_CAPACITY_BYTES,
    )?;
    Ok(Platform {
        source: source.name.clone(),
        name: raw.name,
        clock_hz: number("clock_mhz", raw.clock_mhz, limits::CLOCK_MHZ)? * 1e6,
        dsp_slices,
        macs_per_dsp,
        hbm: Hbm {
            capacity_bytes,
            channels,
            channel_bandwidth_bytes_per_s: peak * GB,
            measured_channel_bandwidth_bytes_per_s: measured * GB,
            access_latency_s: nanoseconds("hbm.access_latency_ns", hbm.access_latency_ns)?,
            request_overhead_s: nanoseconds("hbm.request_overhead_ns", hbm.request_overhead_ns)?,
            request_interval_s: nanoseconds("hbm.request_interval_ns", hbm.request_interval_ns)?,
            refresh_interval_s: refresh_interval_ns * 1e-9,
            refresh_s,
            channels_per_switch: whole(
                "hbm.channels_per_switch",
                hbm.channels_per_switch,
                1..=channels,
            )?,
            lateral_links: whole("hbm.lateral_links", hbm.lateral_links, 1..=16)?,
            switch_hop_latency_s: nanoseconds(
                "hbm.switch_hop_latency_ns",
                hbm.switch_hop_latency_ns,
            )?,
            dram: hbm
                .dram
                .as_ref()
                .map(|dram| dram.validate(file, capacity_bytes / channels))
                .transpose()?,
        },
        sram: Sram {
            bram_blocks: whole(
                "sram.bram_blocks",
                raw.sram.bram_blocks,
                limits::SRAM_BLOCKS,
            )?,
            bram_block_bytes: block_bytes("sram.bram_block_bits", raw.sram.bram_block_bits)?,
            bram_port_bits: whole("sram.bram_port_bits", raw.sram.bram_port_bits, 1..=1024)?,
            uram_blocks: whole(
                "sram.uram_blocks",
                raw.sram.uram_blocks,
                limits::SRAM_BLOCKS,
            )?,
            uram_block_bytes: block_bytes("sram.uram_block_bits", raw.sram.uram_block_bits)?,
            uram_port_bits: whole("sram.uram_port_bits", raw.sram.uram_port_bits, 1..=1024)?,
        },
        ddr: Ddr {
            channels: whole("ddr.channels", raw.ddr.channels, limits::DDR_CHANNELS)?,
            channel_bandwidth_bytes_per_s: number(
                "ddr.channel_bandwidth_gb_per_s",
                raw.ddr.channel_bandwidth_gb_per_s,
                limits::CHANNEL_GB_PER_S,
            )? * GB,
            capacity_bytes: whole(
                "ddr.capacity_bytes",
                raw.ddr.capacity_bytes,
                limits::DDR_CAPACITY_BYTES,
            )?,
        },
        slrs,
        slr_crossings: match raw.slr_crossings {
            Some(crossings) => Some(SlrCrossings {
                slls_per_boundary: whole(
                    "slr_crossings.slls_per_boundary",
                    crossings.slls_per_boundary,
                    1..=1 << 20,
                )?,
                hbm_port_slls: whole(
                    "slr_crossings.hbm_port_slls",
                    crossings.hbm_port_slls,
                    1..=1 << 16,
                )?,
            }),
            None => None,
        },
        logic: match raw.logic {
            Some(logic) => Some(LogicCost {
                luts_per_dsp: number("logic.luts_per_dsp", logic.luts_per_dsp, 0.0..=10_000.0)?,
                ffs_per_dsp: number("logic.ffs_per_dsp", logic.ffs_per_dsp, 0.0..=10_000.0)?,
                luts_per_vector_lane: number(
                    "logic.luts_per_vector_lane",
                    logic.luts_per_vector_lane,
                    0.0..=100_000.0,
                )?,
                ffs_per_vector_lane: number(
                    "logic.ffs_per_vector_lane",
                    logic.ffs_per_vector_lane,
                    0.0..=100_000.0,
                )?,
            }),
            None => None,
        },
        power,
    })
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
