//! Reading a platform file: its ranges ([`limits`]) and the checks that turn the file as
//! written into a [`Platform`].

use super::{
    Ddr, Hbm, LogicCost, Platform, PowerInputs, RawPlatform, SlrBudget, SlrCrossings, Sram,
};
use crate::config::{ConfigError, Source, in_range, parse_toml};
use std::ops::RangeInclusive;

const GB: f64 = 1e9;

/// Valid ranges of the platform's fields (documented in docs/src/config-files.md). Wide enough
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
