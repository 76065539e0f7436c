//! The FPGA board: fabric clock, DSPs and their MACs per precision, HBM, on-chip SRAM, DDR.

use super::precision::Precision;
use super::{ConfigError, Source, parse_toml};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlatform {
    name: String,
    clock_mhz: f64,
    dsp_slices: u64,
    macs_per_dsp: RawMacsPerDsp,
    hbm: RawHbm,
    sram: RawSram,
    ddr: RawDdr,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMacsPerDsp {
    int4: f64,
    int8: f64,
    fp16: f64,
    bf16: f64,
    fp32: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHbm {
    capacity_bytes: u64,
    channels: u64,
    channel_bandwidth_gb_per_s: f64,
    measured_channel_bandwidth_gb_per_s: f64,
    access_latency_ns: f64,
    request_overhead_ns: f64,
    refresh_interval_ns: f64,
    refresh_ns: f64,
    channels_per_switch: u64,
    crossing_bandwidth_share: f64,
    switch_hop_latency_ns: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSram {
    bram_blocks: u64,
    bram_block_bits: u64,
    uram_blocks: u64,
    uram_block_bits: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDdr {
    channels: u64,
    channel_bandwidth_gb_per_s: f64,
    capacity_bytes: u64,
}

/// High-bandwidth memory: independent pseudo-channels of equal bandwidth.
#[derive(Debug, Clone, PartialEq)]
pub struct Hbm {
    pub capacity_bytes: u64,
    pub channels: u64,
    /// Peak of one pseudo-channel.
    pub channel_bandwidth_bytes_per_s: f64,
    /// What one channel sustains on long sequential bursts, as measured on real boards.
    pub measured_channel_bandwidth_bytes_per_s: f64,
    /// Idle read latency of one request.
    pub access_latency_s: f64,
    /// Fixed channel time per request besides its data beats.
    pub request_overhead_s: f64,
    /// A refresh takes the channel away for `refresh_s` every `refresh_interval_s`.
    pub refresh_interval_s: f64,
    pub refresh_s: f64,
    /// Ports and channels per mini-switch of the AXI switch.
    pub channels_per_switch: u64,
    /// Share of a channel's bandwidth left to traffic that crosses mini-switches.
    pub crossing_bandwidth_share: f64,
    /// Latency added per mini-switch crossed.
    pub switch_hop_latency_s: f64,
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

/// On-chip block memories.
#[derive(Debug, Clone, PartialEq)]
pub struct Sram {
    pub bram_blocks: u64,
    pub bram_block_bytes: u64,
    pub uram_blocks: u64,
    pub uram_block_bytes: u64,
}

impl Sram {
    pub fn bram_bytes(&self) -> u64 {
        self.bram_blocks * self.bram_block_bytes
    }

    pub fn uram_bytes(&self) -> u64 {
        self.uram_blocks * self.uram_block_bytes
    }

    pub fn total_bytes(&self) -> u64 {
        self.bram_bytes() + self.uram_bytes()
    }
}

/// Off-chip DDR (holds what does not fit HBM).
#[derive(Debug, Clone, PartialEq)]
pub struct Ddr {
    pub channels: u64,
    pub channel_bandwidth_bytes_per_s: f64,
    pub capacity_bytes: u64,
}

/// A validated platform: every rate positive, every count non-zero.
#[derive(Debug, Clone, PartialEq)]
pub struct Platform {
    pub source: String,
    pub name: String,
    pub clock_hz: f64,
    pub dsp_slices: u64,
    /// MACs per DSP per cycle, indexed like [`Precision::ALL`].
    macs_per_dsp: [f64; 5],
    pub hbm: Hbm,
    pub sram: Sram,
    pub ddr: Ddr,
}

impl Platform {
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

/// Reads and validates a platform TOML.
pub fn load_platform(source: &Source) -> Result<Platform, ConfigError> {
    let raw: RawPlatform = parse_toml(source)?;
    let file = source.name.as_str();
    let rate = |field: &str, value: f64| {
        if value.is_finite() && value > 0.0 {
            Ok(value)
        } else {
            Err(ConfigError::invalid(
                file,
                field,
                format!("must be a positive number, found {value}"),
            ))
        }
    };
    let count = |field: &str, value: u64| {
        if value == 0 {
            Err(ConfigError::invalid(file, field, "must be at least 1"))
        } else {
            Ok(value)
        }
    };
    let macs = &raw.macs_per_dsp;
    let macs_per_dsp = [
        rate("macs_per_dsp.int4", macs.int4)?,
        rate("macs_per_dsp.int8", macs.int8)?,
        rate("macs_per_dsp.fp16", macs.fp16)?,
        rate("macs_per_dsp.bf16", macs.bf16)?,
        rate("macs_per_dsp.fp32", macs.fp32)?,
    ];
    let peak = rate(
        "hbm.channel_bandwidth_gb_per_s",
        raw.hbm.channel_bandwidth_gb_per_s,
    )?;
    let measured = rate(
        "hbm.measured_channel_bandwidth_gb_per_s",
        raw.hbm.measured_channel_bandwidth_gb_per_s,
    )?;
    if measured > peak {
        return Err(ConfigError::invalid(
            file,
            "hbm.measured_channel_bandwidth_gb_per_s",
            format!("{measured} GB/s exceeds the channel peak of {peak} GB/s"),
        ));
    }
    let non_negative = |field: &str, value: f64| {
        if value.is_finite() && value >= 0.0 {
            Ok(value)
        } else {
            Err(ConfigError::invalid(
                file,
                field,
                format!("must be zero or positive, found {value}"),
            ))
        }
    };
    let refresh_ns = non_negative("hbm.refresh_ns", raw.hbm.refresh_ns)?;
    if refresh_ns >= raw.hbm.refresh_interval_ns {
        return Err(ConfigError::invalid(
            file,
            "hbm.refresh_ns",
            "must be shorter than hbm.refresh_interval_ns",
        ));
    }
    let block_bytes = |field: &str, bits: u64| {
        if bits == 0 || !bits.is_multiple_of(8) {
            Err(ConfigError::invalid(
                file,
                field,
                "must be a positive whole number of bytes",
            ))
        } else {
            Ok(bits / 8)
        }
    };
    Ok(Platform {
        source: source.name.clone(),
        name: raw.name,
        clock_hz: rate("clock_mhz", raw.clock_mhz)? * 1e6,
        dsp_slices: count("dsp_slices", raw.dsp_slices)?,
        macs_per_dsp,
        hbm: Hbm {
            capacity_bytes: count("hbm.capacity_bytes", raw.hbm.capacity_bytes)?,
            channels: count("hbm.channels", raw.hbm.channels)?,
            channel_bandwidth_bytes_per_s: peak * GB,
            measured_channel_bandwidth_bytes_per_s: measured * GB,
            access_latency_s: non_negative("hbm.access_latency_ns", raw.hbm.access_latency_ns)?
                * 1e-9,
            request_overhead_s: non_negative(
                "hbm.request_overhead_ns",
                raw.hbm.request_overhead_ns,
            )? * 1e-9,
            refresh_interval_s: rate("hbm.refresh_interval_ns", raw.hbm.refresh_interval_ns)?
                * 1e-9,
            refresh_s: refresh_ns * 1e-9,
            channels_per_switch: count("hbm.channels_per_switch", raw.hbm.channels_per_switch)?,
            crossing_bandwidth_share: match raw.hbm.crossing_bandwidth_share {
                share if share > 0.0 && share <= 1.0 => share,
                share => {
                    return Err(ConfigError::invalid(
                        file,
                        "hbm.crossing_bandwidth_share",
                        format!("must be a share in (0, 1], found {share}"),
                    ));
                }
            },
            switch_hop_latency_s: non_negative(
                "hbm.switch_hop_latency_ns",
                raw.hbm.switch_hop_latency_ns,
            )? * 1e-9,
        },
        sram: Sram {
            bram_blocks: raw.sram.bram_blocks,
            bram_block_bytes: block_bytes("sram.bram_block_bits", raw.sram.bram_block_bits)?,
            uram_blocks: raw.sram.uram_blocks,
            uram_block_bytes: block_bytes("sram.uram_block_bits", raw.sram.uram_block_bits)?,
        },
        ddr: Ddr {
            channels: raw.ddr.channels,
            channel_bandwidth_bytes_per_s: rate(
                "ddr.channel_bandwidth_gb_per_s",
                raw.ddr.channel_bandwidth_gb_per_s,
            )? * GB,
            capacity_bytes: raw.ddr.capacity_bytes,
        },
    })
}

/// The U280 platform file shipped in `configs/platforms/`.
pub const DEFAULT_PLATFORM: &str = include_str!("../../configs/platforms/u280.toml");

/// The built-in platform: the Alveo U280.
pub fn default_platform() -> Platform {
    load_platform(&Source::built_in("u280.toml", DEFAULT_PLATFORM))
        .expect("the shipped platform config is valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u280_roofs_are_derived_from_dsps_and_clock() {
        let u280 = default_platform();
        let int8_tops = u280.peak_ops_per_s(Precision::Int8) / 1e12;
        assert!((int8_tops - 10.8288).abs() < 1e-9, "{int8_tops}");
        let fp32_tflops = u280.peak_ops_per_s(Precision::Fp32) / 1e12;
        assert!((fp32_tflops - 1.08288).abs() < 1e-9, "{fp32_tflops}");
        assert!((u280.hbm.peak_bandwidth_bytes_per_s() - 460e9).abs() < 1.0);
        assert_eq!(u280.sram.total_bytes(), 2016 * 4608 + 960 * 36864);
    }

    #[test]
    fn unknown_field_is_named() {
        let text = DEFAULT_PLATFORM.replace("dsp_slices = 9024", "dsp_slices = 9024\ndsps = 1");
        let error = load_platform(&Source::built_in("p.toml", &text)).unwrap_err();
        let line = error.to_string();
        assert!(line.contains("unknown field `dsps`"), "{line}");
        assert!(!line.contains('\n'), "one line: {line}");
    }

    #[test]
    fn measured_above_peak_is_rejected() {
        let text = DEFAULT_PLATFORM.replace(
            "measured_channel_bandwidth_gb_per_s = 13.27",
            "measured_channel_bandwidth_gb_per_s = 20.0",
        );
        let error = load_platform(&Source::built_in("p.toml", &text)).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("hbm.measured_channel_bandwidth_gb_per_s"),
            "{error}"
        );
    }
}
