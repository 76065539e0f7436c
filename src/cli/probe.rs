//! `roofsim probe hbm`: the HBM models benchmarked like Shuhai, every option checked
//! against the platform and design before anything runs.

use super::ProbeArgs;
use super::out::prepare_out;
use super::run::{Ran, option_error};
use crate::config::ConfigError;
use crate::config::design::MemoryModel;
use crate::pipeline::{self, Error};
use crate::report::write_all;
use crate::sim::probe::{Pattern, Probe, ProbeMemory};

/// Requester bytes per channel a probe moves: 2 MiB spans about 40 refresh intervals at
/// full rate, so refresh is averaged in, and keeps the 32-channel grid fast.
const PROBE_BYTES_PER_CHANNEL: u64 = 2 << 20;

/// The probe's stride when none is given.
const DEFAULT_PROBE_STRIDE_BYTES: u64 = 4096;

/// The most requests in flight per port the probe models.
const MAX_PROBE_OUTSTANDING: u64 = 256;

pub(super) fn run_probe(args: &ProbeArgs) -> Result<Ran, Error> {
    let platform = pipeline::platform_or_default(args.design.platform.as_deref())?;
    let design = pipeline::design_or_default(args.design.design.as_deref(), &platform)?;
    let memory = args
        .memory
        .unwrap_or(if design.memory() == MemoryModel::Dram {
            ProbeMemory::Dram
        } else {
            ProbeMemory::Fast
        });
    let needs_dram = memory == ProbeMemory::Dram || args.idle_latency;
    if needs_dram && platform.hbm.dram.is_none() {
        return Err(option_error(
            if args.idle_latency {
                "--idle-latency"
            } else {
                "--memory"
            },
            format!(
                "the bank-level model needs [hbm.dram] in the platform ({})",
                platform.source
            ),
        ));
    }
    if args.idle_latency {
        return Ok(Ran {
            text: pipeline::idle_latency_text(&platform, &design),
            written: Vec::new(),
        });
    }
    if args.hls && memory != ProbeMemory::Dram {
        return Err(option_error(
            "--hls",
            "an HLS adapter's latency is modelled by the bank model only (add --memory dram)"
                .into(),
        ));
    }
    let channel_capacity = platform.hbm.capacity_bytes / platform.hbm.channels;
    let check = |option: &str, value: u64, range: std::ops::RangeInclusive<u64>| {
        if range.contains(&value) {
            Ok(value)
        } else {
            Err(option_error(
                option,
                format!(
                    "must be between {} and {}, found {value}",
                    range.start(),
                    range.end()
                ),
            ))
        }
    };
    let bursts = match args.burst_bytes {
        Some(burst) => {
            // AXI3 bursts of the HBM ports: at most 16 beats of 32 bytes (PG276).
            check("--burst-bytes", burst, 32..=512)?;
            if burst % 32 != 0 {
                return Err(option_error(
                    "--burst-bytes",
                    format!("must be whole 32-byte AXI beats, found {burst}"),
                ));
            }
            vec![burst]
        }
        None => vec![32, 64, 128, 256, 512],
    };
    let working_set = check(
        "--working-set-bytes",
        args.working_set_bytes,
        512..=channel_capacity,
    )?;
    // A stride given is checked; the default shrinks to a small working set.
    let stride = match args.stride_bytes {
        Some(stride) => check("--stride-bytes", stride, 1..=working_set)?,
        None => DEFAULT_PROBE_STRIDE_BYTES.min(working_set),
    };
    let channel_counts = match args.channels {
        Some(channels) => vec![check("--channels", channels, 1..=platform.hbm.channels)?],
        None => vec![1, platform.hbm.channels],
    };
    // The design's own count when none is given: then a count beyond the probe's range is
    // the design's field to blame.
    let outstanding = match args.outstanding {
        Some(outstanding) => check("--outstanding", outstanding, 1..=MAX_PROBE_OUTSTANDING)?,
        None => {
            let outstanding = design.placement().outstanding_requests;
            if outstanding > MAX_PROBE_OUTSTANDING {
                return Err(ConfigError::invalid(
                    design.source(),
                    "hbm.outstanding_requests",
                    format!(
                        "the probe models at most {MAX_PROBE_OUTSTANDING} outstanding requests \
                         per port, found {outstanding}; pass --outstanding N"
                    ),
                )
                .into());
            }
            outstanding
        }
    };
    if !(0.0..=1.0).contains(&args.write_share) {
        return Err(option_error(
            "--write-share",
            format!("must be between 0 and 1, found {}", args.write_share),
        ));
    }
    let switches =
        crate::sim::switch::switch_count(platform.hbm.channels, platform.hbm.channels_per_switch);
    let switch_distance = check("--switch-distance", args.switch_distance, 0..=switches - 1)?;
    let patterns = match args.pattern {
        Some(pattern) => vec![pattern],
        None => vec![Pattern::Sequential, Pattern::Strided],
    };
    let mut probes = Vec::new();
    for &pattern in &patterns {
        for &channels in &channel_counts {
            for &burst_bytes in &bursts {
                probes.push(Probe {
                    memory,
                    pattern,
                    burst_bytes,
                    stride_bytes: stride,
                    working_set_bytes: working_set - working_set % burst_bytes,
                    channels,
                    outstanding,
                    write_share: args.write_share,
                    switch_distance,
                    stripe_bytes: design.placement().stripe_bytes,
                    hls: args.hls,
                    bytes_per_channel: PROBE_BYTES_PER_CHANNEL,
                });
            }
        }
    }
    // The standard grid ends with the design's own layout: one tensor striped over its
    // weight channels, read in its bursts.
    if args.pattern.is_none() && args.burst_bytes.is_none() && args.channels.is_none() {
        let placement = design.placement();
        probes.push(Probe {
            pattern: Pattern::Striped,
            burst_bytes: placement.burst_bytes,
            working_set_bytes: working_set - working_set % placement.burst_bytes,
            channels: placement.weight_channels.len() as u64,
            ..probes[0]
        });
    }
    let output = pipeline::probe_hbm(&platform, &design, &probes)?;
    let _lock = prepare_out(&args.out)?;
    write_all(&args.out, &output.files)?;
    Ok(Ran::new(
        output.text,
        &args.out,
        output.files.iter().map(|(name, _)| name),
    ))
}
